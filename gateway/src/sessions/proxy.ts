// The stream of a session, proxied with http-proxy-3: its page and assets over HTTP, its
// signalling over WebSocket. The target is the session's endpoint; the path is what follows
// /sessions/{id}. The browser's cookies and credentials never reach the session: its pod
// runs the user's app, and the gateway cookie must not be replayable from there.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';

const STRIPPED = ['cookie', 'authorization', 'x-csrf-token', 'proxy-authorization'];

/** The request as the session sees it: its own path, no credentials of the gateway's. */
function rewrite(req: IncomingMessage, path: string) {
  req.url = path;
  for (const name of STRIPPED) delete req.headers[name];
}

export class SessionProxy {
  private readonly proxy: ProxyServer;
  private readonly sockets = new Set<Duplex>();
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly headers: Record<string, string>;

  constructor(opts: {
    metrics: Metrics;
    log: Logger;
    headers: Record<string, string>;
    /** how endpoint host names are resolved; default the system's (in-cluster: its DNS) */
    lookup?: LookupFunction;
  }) {
    // connections to streamers are reused: a new one per request costs more than the proxying
    this.proxy = createProxyServer({
      xfwd: true,
      changeOrigin: true,
      agent: new Agent({
        keepAlive: true,
        maxSockets: 256,
        ...(opts.lookup && { lookup: opts.lookup }),
      }),
    });
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.headers = opts.headers;
    // http-proxy-3 reports errors of the browser's WebSocket (a reset when the tab goes away)
    // on the server, which throws without a listener; upstream errors come to the callbacks
    this.proxy.on('error', (err, _req, res) => {
      this.log.debug({ err: err.message }, 'proxied connection ended with an error');
      if ('destroy' in res) res.destroy();
    });
    // a session must not set cookies on the gateway's origin (it could replace the user's
    // session or CSRF cookie); the stream needs none
    this.proxy.on('proxyRes', (proxyRes: IncomingMessage) => {
      delete proxyRes.headers['set-cookie'];
    });
    // http-proxy only half-closes the session's side when the browser goes away; a session
    // that keeps its half open would hold the connection (and the gauge) forever
    this.proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
      proxyReq.once('upgrade', (_res, proxySocket: Socket) => {
        socket.once('close', () => proxySocket.destroy());
      });
    });
    this.proxy.on('open', (proxySocket: Socket) => {
      this.metrics.websockets.inc();
      this.sockets.add(proxySocket);
      proxySocket.once('close', () => {
        this.metrics.websockets.dec();
        this.sockets.delete(proxySocket);
      });
    });
  }

  /**
   * Proxies an HTTP request. `cookies` (e.g. a renewed session cookie) and the security
   * headers go on the answer; the session's own headers win where both set one.
   */
  web(req: IncomingMessage, res: ServerResponse, target: string, path: string, cookies: string[]) {
    rewrite(req, path);
    for (const [name, value] of Object.entries(this.headers)) res.setHeader(name, value);
    if (cookies.length > 0) res.setHeader('set-cookie', cookies);
    this.proxy.web(req, res, { target }, (err) => {
      this.metrics.upstreamErrors.inc({ upstream: 'session' });
      this.log.warn({ err: err.message, target }, 'session proxy error');
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(
          JSON.stringify({
            error: { code: 'bad_gateway', message: 'the session did not answer; try again' },
          }),
        );
      } else {
        res.destroy();
      }
    });
  }

  /** Proxies a WebSocket upgrade (the signalling). */
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: string, path: string) {
    rewrite(req, path);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.proxy.ws(req, socket, head, { target }, (err) => {
      this.metrics.upstreamErrors.inc({ upstream: 'session' });
      this.log.warn({ err: err.message, target }, 'session WebSocket proxy error');
      socket.destroy();
    });
  }

  /** Ends every proxied WebSocket (at shutdown). */
  close() {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
