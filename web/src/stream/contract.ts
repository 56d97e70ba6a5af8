/**
 * The protocol's runtime values, for the browser bundle. protocol.ts has no runtime
 * dependencies (the zod schemas live in protocol-schema.ts), so importing values from it keeps
 * zod out of the page; the build test checks that.
 */
import { LIMITS } from '@floe/streamer/protocol';

export {
  CLOSE_CODES,
  FILES_CHANNEL,
  INPUT_CHANNEL,
  PROTOCOL_VERSION,
  SIGNAL_PATH,
} from '@floe/streamer/protocol';

export const RESIZE_BOUNDS = LIMITS.resize;
export const MAX_DELTA = LIMITS.maxDelta;
export const MAX_CLIPBOARD = LIMITS.maxClipboard;
export const SCALE_BOUNDS = LIMITS.scale;
