/** zod validation of what browsers send, kept to the types of protocol.ts. */
import { z } from 'zod';
import {
  type ClientSignal,
  FILE_LIMITS,
  type FileRequest,
  GAMEPAD_AXES,
  GAMEPAD_BUTTONS,
  GAMEPAD_PADS,
  type InputMessage,
  LIMITS,
} from './protocol.ts';

const iceCandidate = z.object({
  candidate: z.string().max(2048),
  sdpMid: z.string().max(64).nullish(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullish(),
  usernameFragment: z.string().max(256).nullish(),
});

const iceUrl = z
  .string()
  .max(512)
  .regex(/^(turns?|stuns?):/, 'a turn:, turns:, stun: or stuns: URL');
const iceServer = z.object({
  urls: z.union([iceUrl, z.array(iceUrl).min(1).max(8)]),
  username: z.string().max(512).optional(),
  credential: z.string().max(512).optional(),
});

export const clientSignal: z.ZodType<ClientSignal> = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('offer'),
    sdp: z
      .string()
      .min(1)
      .max(64 * 1024),
    iceServers: z.array(iceServer).max(4).optional(),
  }),
  z.object({ type: z.literal('ice'), candidate: iceCandidate.nullable() }),
]);

const unit = z.number().min(0).max(1);
const viewerId = z.string().regex(/^[a-z0-9]{1,16}$/, 'a viewer id');
const delta = z.number().int().min(-LIMITS.maxDelta).max(LIMITS.maxDelta);
const { resize } = LIMITS;
const index = (count: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(count - 1);

export const inputMessage: z.ZodType<InputMessage> = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('key'),
    keysym: z.number().int().min(1).max(LIMITS.maxKeysym),
    down: z.boolean(),
  }),
  z.object({ t: z.literal('move'), x: unit, y: unit }),
  z.object({ t: z.literal('rel'), dx: delta, dy: delta }),
  z.object({ t: z.literal('button'), button: z.number().int().min(1).max(9), down: z.boolean() }),
  z.object({ t: z.literal('wheel'), dx: delta, dy: delta }),
  z.object({ t: z.literal('reset') }),
  z.object({ t: z.literal('clipboard'), text: z.string().max(LIMITS.maxClipboard) }),
  z.object({
    t: z.literal('resize'),
    width: z.number().int().min(resize.minWidth).max(resize.maxWidth),
    height: z.number().int().min(resize.minHeight).max(resize.maxHeight),
    scale: z.number().min(LIMITS.scale.min).max(LIMITS.scale.max).optional(),
  }),
  z.object({ t: z.literal('ping'), id: z.number().int(), sent: z.number() }),
  z.object({ t: z.literal('still-here') }),
  z.object({ t: z.literal('control'), viewer: viewerId, on: z.boolean() }),
  z.object({ t: z.literal('remove'), viewer: viewerId }),
  // at most one change per button and axis: the page sends what changed since the last
  z.object({
    t: z.literal('gamepad'),
    pad: index(GAMEPAD_PADS),
    buttons: z
      .array(z.tuple([index(GAMEPAD_BUTTONS.length), z.boolean()]))
      .max(GAMEPAD_BUTTONS.length)
      .optional(),
    axes: z
      .array(z.tuple([index(GAMEPAD_AXES.length), z.number().min(-1).max(1)]))
      .max(GAMEPAD_AXES.length)
      .optional(),
  }),
]);

const transferId = z.number().int().min(0).max(0xffff_ffff);

/** Requests on the "files" channel; file names are checked further by files/names.ts. */
export const fileRequest: z.ZodType<FileRequest> = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('upload'),
    id: transferId,
    name: z.string().min(1).max(FILE_LIMITS.maxNameLength),
    size: z.number().int().min(0).max(FILE_LIMITS.maxSize),
    modified: z.number().int().min(0).max(FILE_LIMITS.maxSize),
  }),
  z.object({ t: z.literal('upload-end'), id: transferId }),
  z.object({ t: z.literal('upload-cancel'), id: transferId }),
  z.object({ t: z.literal('list') }),
  z.object({
    t: z.literal('download'),
    id: transferId,
    name: z.string().min(1).max(FILE_LIMITS.maxNameLength),
  }),
  z.object({ t: z.literal('download-cancel'), id: transferId }),
]);
