// WebSocket upgrades forwarded to a session's endpoint (the stream's signalling): the
// handshake goes out as forward.ts sends requests (no credentials of the gateway's,
// X-Forwarded-*), the endpoint's 101 comes back without Set-Cookie, and then the two
// sockets are joined. A gateway holds thousands of these for as long as streams last, so
// each holds as little as it can: two sockets and listeners shared by all of them;
// the handshake's request and response objects are let go once the upgrade is done.

import type { ClientRequest, IncomingMessage } from 'node:http';
import { request } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { plainHeader } from './answer.ts';
import { forwardedHeaders } from './forward.ts';

/** The handshake's headers: the forwarded ones, and the upgrade itself (hop-by-hop). */
function handshakeHeaders(req: IncomingMessage, viewerToken: string): string[] {
  const out = forwardedHeaders(req);
  out.push('connection', 'Upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
  // the streamer's proof that the gateway let this viewer through (auth/viewer-token.ts)
  out.push('authorization', `Bearer ${viewerToken}`);
  return out;
}

/** The headers of the session's 101 that the browser gets: the handshake's own. */
export const upgradedHeader = (name: string) =>
  name === 'upgrade' ||
  name === 'connection' ||
  name.startsWith('sec-websocket-') ||
  plainHeader(name);
/**
 * A refusal (no upgrade) is relayed as it is read (unchunked, the connection closed after
 * it) with plain headers only (answer.ts): a browser's WebSocket never shows its body, but
 * its headers could still act on the gateway's origin (Set-Cookie, Clear-Site-Data).
 */
export const refusedHeader = (name: string) => name === 'content-length' || plainHeader(name);

/** An answer's head as the browser gets it: status line and the headers `passes` keeps. */
export function answerHead(
  statusLine: string,
  rawHeaders: readonly string[],
  passes: (lowerCaseName: string) => boolean,
  extra = '',
): string {
  let head = `${statusLine}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!passes((rawHeaders[i] as string).toLowerCase())) continue;
    head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return `${head}${extra}\r\n`;
}

const ignore = () => {};

// The two sockets of a WebSocket, relayed with listeners shared by all connections: each
// socket knows its peer, and no closure or pipe state is made per connection.
const PEER = Symbol('peer');
type Joined = Duplex & { [PEER]: Duplex };

function relayData(this: Joined, chunk: Buffer) {
  if (!this[PEER].write(chunk)) this.pause();
}
function resumePeer(this: Joined) {
  this[PEER].resume();
}
function endPeer(this: Joined) {
  this[PEER].end();
}
// a half-open session (or browser) would otherwise hold the connection forever
function destroyPeer(this: Joined) {
  this[PEER].destroy();
}

/** Relays each side to the other; each ends when the other closes. */
function join(browser: Duplex, session: Socket) {
  session.setNoDelay(true);
  session.setTimeout(0);
  (browser as Joined)[PEER] = session;
  (session as unknown as Joined)[PEER] = browser;
  for (const side of [browser, session]) {
    side.on('data', relayData);
    side.on('drain', resumePeer);
    side.on('end', endPeer);
    side.on('close', destroyPeer);
    side.resume(); // a handed-over socket may have been paused
  }
}

export interface UpgradeHooks {
  /** how endpoint host names are resolved; default the system's */
  lookup?: LookupFunction;
  /** the upgrade went through: the session's socket, open until the stream ends */
  opened(session: Socket): void;
  /** the endpoint could not be reached, or failed before the upgrade */
  failed(err: Error): void;
}

/**
 * Forwards the upgrade `req` (its socket and the bytes after its head) to `target` at
 * `path`. An endpoint that answers without upgrading has that answer relayed, and the
 * connection closed.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: string,
  path: string,
  hooks: UpgradeHooks,
  viewerToken: string,
) {
  const url = new URL(target);
  const prefix = url.pathname.replace(/\/+$/, '');
  let outgoing: ClientRequest;
  try {
    outgoing = request({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 80,
      method: 'GET',
      path: prefix + path,
      headers: handshakeHeaders(req, viewerToken),
      setHost: true,
      agent: false,
      ...(hooks.lookup && { lookup: hooks.lookup }),
    });
  } catch (err) {
    // a header Node will not send: refused like an unreachable endpoint, not a crash
    hooks.failed(err as Error);
    socket.destroy();
    return;
  }
  const fail = (err: Error) => {
    hooks.failed(err);
    socket.destroy();
  };
  outgoing.once('error', fail);
  // the browser gave up during the handshake
  const abandoned = () => outgoing.destroy();
  socket.once('close', abandoned);
  outgoing.once('upgrade', (res: IncomingMessage, session: Socket, sessionHead: Buffer) => {
    outgoing.off('error', fail);
    socket.off('close', abandoned);
    session.on('error', ignore); // a reset ends it: 'close' follows
    if (socket.destroyed) {
      session.destroy();
      return;
    }
    socket.write(answerHead('HTTP/1.1 101 Switching Protocols', res.rawHeaders, upgradedHeader));
    if (sessionHead.length > 0) socket.write(sessionHead);
    if (head.length > 0) session.write(head);
    join(socket, session);
    hooks.opened(session);
  });
  outgoing.once('response', (res: IncomingMessage) => {
    socket.off('close', abandoned);
    const status = `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}`;
    socket.write(answerHead(status, res.rawHeaders, refusedHeader, 'connection: close\r\n'));
    res.pipe(socket);
  });
  outgoing.end();
}
