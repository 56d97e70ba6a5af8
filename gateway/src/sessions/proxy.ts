// A session, proxied: its signalling over WebSocket (ws-forward.ts), and whatever else its
// app serves over HTTP (forward.ts, undici), passive content only (answer.ts). The stream page
// is the gateway's own (routes/sessions.ts). The target is the session's endpoint; the path
// is what follows /sessions/{id}. The browser's cookies and credentials never reach the
// session: its pod runs the user's app, and the gateway cookie must not be replayable from
// there.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Viewer } from '../auth/viewer-token.ts';
import type { Metrics } from '../metrics.ts';
import { Forwarder } from './forward.ts';
import { forwardUpgrade, type UpgradeHooks } from './ws-forward.ts';

export class SessionProxy {
  private readonly forwarder: Forwarder;
  /** the browsers' sockets of open WebSockets, ended at shutdown */
  private readonly sockets = new Set<Duplex>();
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly hooks: UpgradeHooks;
  private readonly viewerToken: (viewer: Viewer) => Promise<string>;
  /** a socket's 'close' listener, called with the socket as `this`: none per connection */
  private readonly forget: (this: Duplex) => void;

  constructor(opts: {
    metrics: Metrics;
    log: Logger;
    headers: Record<string, string>;
    /** how endpoint host names are resolved; default the system's (in-cluster: its DNS) */
    lookup?: LookupFunction;
    /** signs the token that opens a session's signalling for a viewer (auth/viewer-token.ts) */
    viewerToken: (viewer: Viewer) => Promise<string>;
  }) {
    this.viewerToken = opts.viewerToken;
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.forwarder = new Forwarder({
      headers: opts.headers,
      lookup: opts.lookup,
      onError: (err, target) => {
        this.metrics.upstreamErrors.inc({ upstream: 'session' });
        this.log.warn({ err: err.message, target }, 'session proxy error');
      },
      onRefused: (reason, target) => {
        this.metrics.upstreamErrors.inc({ upstream: 'session' });
        this.log.warn({ reason, target }, 'session answer refused');
      },
    });
    const sockets = this.sockets;
    this.forget = function (this: Duplex) {
      sockets.delete(this);
    };
    // one set of hooks for all WebSockets: no closures per connection beyond need
    const closed = () => this.metrics.websockets.dec();
    this.hooks = {
      lookup: opts.lookup,
      opened: (session: Socket) => {
        this.metrics.websockets.inc();
        session.on('close', closed);
      },
      failed: (err: Error) => {
        this.metrics.upstreamErrors.inc({ upstream: 'session' });
        this.log.warn({ err: err.message }, 'session WebSocket proxy error');
      },
    };
  }

  /**
   * Proxies an HTTP request. `cookies` (e.g. a renewed session cookie) and the security
   * headers go on the answer; the session's own headers win where both set one. `onEnd`
   * is called when the exchange is over.
   */
  web(
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    path: string,
    cookies: readonly string[],
    onEnd: () => void = () => {},
  ) {
    this.forwarder.forward(req, res, target, path, cookies, onEnd);
  }

  /**
   * Proxies a WebSocket upgrade (the signalling) of `viewer`, with the viewer token that
   * opens it at the streamer: added here, so the browser never holds it.
   */
  ws(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    target: string,
    path: string,
    viewer: Viewer,
  ) {
    this.sockets.add(socket);
    socket.on('close', this.forget);
    this.viewerToken(viewer).then(
      (token) => {
        if (!socket.destroyed) forwardUpgrade(req, socket, head, target, path, this.hooks, token);
      },
      (err: Error) => {
        this.hooks.failed(err);
        socket.destroy();
      },
    );
  }

  /** Ends every proxied WebSocket (at shutdown). */
  close() {
    void this.forwarder.close();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
