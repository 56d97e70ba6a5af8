/**
 * The protocol's runtime constants, for the browser bundle.
 *
 * streamer/src/protocol.ts defines them beside its zod schemas, and importing any value from
 * it drags all of zod (~440 kB) into the page: esbuild cannot drop the module's top-level
 * schema calls. So the values are repeated here, but each is typed as `typeof` the original:
 * if the streamer changes one, `tsc -p web` fails instead of the page silently drifting.
 */
import type {
  CLOSE_CODES as ProtocolCloseCodes,
  INPUT_CHANNEL as ProtocolInputChannel,
  SIGNAL_PATH as ProtocolSignalPath,
  PROTOCOL_VERSION as ProtocolVersion,
} from '@floe/streamer/protocol';

export const PROTOCOL_VERSION: typeof ProtocolVersion = 1;
export const SIGNAL_PATH: typeof ProtocolSignalPath = '/signal';
export const INPUT_CHANNEL: typeof ProtocolInputChannel = 'input';
export const CLOSE_CODES: typeof ProtocolCloseCodes = {
  busy: 4409,
  takenOver: 4410,
  badMessage: 4400,
  goingAway: 1001,
};

/** Bounds of a `resize` request (protocol.ts validates the same). */
export const RESIZE_BOUNDS = {
  minWidth: 320,
  maxWidth: 7680,
  minHeight: 240,
  maxHeight: 4320,
} as const;

/** Largest |dx|/|dy| of a `rel` or `wheel` message. */
export const MAX_DELTA = 10_000;

/** Longest clipboard text the streamer accepts, in UTF-16 code units (zod's string length). */
export const MAX_CLIPBOARD = 1024 * 1024;
