/**
 * The streamer's wire protocol, shared with web/ (which imports the types only).
 *
 * Signalling runs over a WebSocket at `/signal` as JSON text frames:
 *
 *   browser                         streamer
 *      ── connect ─────────────────────▶
 *      ◀──────────────────── welcome   (ICE servers, codecs, display size)
 *      ── offer (recvonly video+audio, data channel "input") ▶
 *      ◀──────────────────── answer    (the codec chosen)
 *      ◀── ice ──▶ (trickle, both ways; `candidate: null` ends gathering)
 *      ◀──────────────────── error     (then the socket closes with a 4xxx code)
 *
 * The browser offers, so the streamer picks the first codec of its own preference that the
 * browser's offer contains. Input, clipboard, resize and stats then travel over the
 * WebRTC data channel "input" (ordered, reliable), also JSON.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const SIGNAL_PATH = '/signal';
export const INPUT_CHANNEL = 'input';

/** Video codecs the streamer can encode, by their WebRTC names. */
export const VIDEO_CODECS = ['H264', 'VP8'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

/** WebSocket close codes the streamer uses; 4000–4999 is the application range. */
export const CLOSE_CODES = {
  /** Another viewer is in control and the policy is `refuse`. */
  busy: 4409,
  /** A newer viewer took over (policy `takeover`). */
  takenOver: 4410,
  /** The client sent something the protocol does not allow. */
  badMessage: 4400,
  /** The streamer is shutting down. */
  goingAway: 1001,
} as const;

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

// ── signalling: streamer → browser ──────────────────────────────────────────────────────────

export type ServerSignal =
  | {
      type: 'welcome';
      protocolVersion: number;
      iceServers: IceServer[];
      /** Codecs in the streamer's order of preference. */
      codecs: VideoCodec[];
      display: { width: number; height: number };
      /** The display can follow the browser window's size. */
      resizable: boolean;
    }
  | { type: 'answer'; sdp: string; codec: VideoCodec }
  | { type: 'ice'; candidate: IceCandidate | null }
  | { type: 'error'; code: SignalErrorCode; message: string };

export type SignalErrorCode =
  | 'busy'
  | 'taken_over'
  | 'bad_message'
  | 'no_common_codec'
  | 'negotiation_failed';

// ── signalling: browser → streamer (validated) ──────────────────────────────────────────────

const iceCandidate = z.object({
  candidate: z.string().max(2048),
  sdpMid: z.string().max(64).nullish(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullish(),
  usernameFragment: z.string().max(256).nullish(),
});

export const clientSignal = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('offer'),
    sdp: z
      .string()
      .min(1)
      .max(64 * 1024),
  }),
  z.object({ type: z.literal('ice'), candidate: iceCandidate.nullable() }),
]);
export type ClientSignal = z.infer<typeof clientSignal>;

// ── data channel: browser → streamer (validated) ────────────────────────────────────────────

const unit = z.number().min(0).max(1);
const delta = z.number().int().min(-10_000).max(10_000);

export const inputMessage = z.discriminatedUnion('t', [
  /** A key by X keysym (layout-independent: the browser sends what the key produced). */
  z.object({
    t: z.literal('key'),
    keysym: z.number().int().min(1).max(0x1ffffff),
    down: z.boolean(),
  }),
  /** Absolute pointer position as a fraction of the display (0..1), so a resize cannot skew it. */
  z.object({ t: z.literal('move'), x: unit, y: unit }),
  /** Relative motion in display pixels (pointer lock). */
  z.object({ t: z.literal('rel'), dx: delta, dy: delta }),
  /** X button numbers: 1 left, 2 middle, 3 right, 8 back, 9 forward. */
  z.object({ t: z.literal('button'), button: z.number().int().min(1).max(9), down: z.boolean() }),
  /** Wheel in notches; positive dy scrolls down, positive dx right. */
  z.object({ t: z.literal('wheel'), dx: delta, dy: delta }),
  /** Release every key and button held (the page lost focus). */
  z.object({ t: z.literal('reset') }),
  z.object({ t: z.literal('clipboard'), text: z.string().max(1024 * 1024) }),
  /** Ask for the display to match the browser's video area, in device pixels. */
  z.object({
    t: z.literal('resize'),
    width: z.number().int().min(320).max(7680),
    height: z.number().int().min(240).max(4320),
  }),
  /** Clock probe: the streamer answers with `pong` carrying its own time. */
  z.object({ t: z.literal('ping'), id: z.number().int(), sent: z.number() }),
]);
export type InputMessage = z.infer<typeof inputMessage>;

// ── data channel: streamer → browser ────────────────────────────────────────────────────────

export type StreamerMessage =
  | { t: 'clipboard'; text: string }
  | { t: 'display'; width: number; height: number }
  | { t: 'pong'; id: number; sent: number; streamerTime: number }
  | {
      t: 'stats';
      /** Frames encoded per second over the last interval. */
      fps: number;
      /** Mean encoder time per frame, ms. */
      encodeMs: number;
      /** Target bitrate the streamer is encoding at, bits/s. */
      targetBitrate: number;
      /** Bitrate actually sent, bits/s. */
      sentBitrate: number;
      /** Round-trip time from RTCP, ms (null until known). */
      rttMs: number | null;
      codec: VideoCodec;
    };
