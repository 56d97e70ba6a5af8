// The stream page is the gateway's own: web/build.ts's web/dist/stream, served at each
// session's URL (/sessions/{id}/), never fetched from the session, whose app may be hostile
// and whose answers would run on the gateway's origin with the user's sign-in. Of the
// session, the page needs only its signalling WebSocket (`signal`, beside the page); its ICE
// servers and state are the gateway's routes (`turn`, `state`).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SIGNAL_PATH } from '@floe/streamer/protocol';

/** The page, at the session's root, and its bundle beside it (web/build.ts writes these). */
export const STREAM_PAGE = '/';
export const STREAM_ASSETS: ReadonlySet<string> = new Set([
  '/stream.js',
  '/stream.css',
  '/stream.js.map',
  '/stream.css.map',
]);

/** The one WebSocket under /sessions/{id}/: the stream's signalling, at the session. */
export const SIGNAL = SIGNAL_PATH;

/**
 * The built stream page (index.html, stream.js, stream.css: web/dist/stream) for a
 * FLOE_GATEWAY_WEB_DIR that is the dist folder or its app/ folder; null when there is none.
 */
export function streamPageDir(webDir: string | undefined): string | null {
  if (!webDir) return null;
  for (const candidate of [resolve(webDir, 'stream'), join(dirname(resolve(webDir)), 'stream')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return null;
}
