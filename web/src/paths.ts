import { fileURLToPath } from 'node:url';

/** The built stream client (`node web/build.ts`), for the streamer to serve at its root. */
export const streamClientDir = fileURLToPath(new URL('../dist/stream/', import.meta.url));
