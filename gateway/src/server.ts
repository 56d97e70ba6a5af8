// Assembles and serves a gateway: keys, control-plane client, identity providers, session
// proxy, TURN fleet, the HTTP app, and the handling of WebSocket upgrades.
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer, getRequestListener } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import { IdentityProviders } from './auth/oidc.ts';
import { SessionManager } from './auth/sessions.ts';
import { mintViewerToken } from './auth/viewer-token.ts';
import { joinCluster } from './cluster.ts';
import type { GatewayConfig } from './config.ts';
import { ControlClient } from './control-client.ts';
import type { Deps } from './deps.ts';
import { SessionEdge } from './edge/edge.ts';
import { floeEdgeProgram } from './edge/floe-edge-build.ts';
import { AccessSummary } from './http/access-summary.ts';
import { alreadySent } from './http/env.ts';
import { securityHeaders } from './http/security-headers.ts';
import { loadKeys } from './keys.ts';
import { createMetrics, metricsApp, registerEdgeMetrics } from './metrics.ts';
import { FastPath } from './sessions/fast-path.ts';
import { BAD_GATEWAY, REFUSED, sessionAnswerSecurity } from './sessions/forward.ts';
import { SessionProxy } from './sessions/proxy.ts';
import { TurnOffer } from './sessions/turn.ts';

export interface Gateway {
  /** where it listens, e.g. http://127.0.0.1:8081 (its public origin is FLOE_GATEWAY_ISSUER) */
  url: string;
  /** where Prometheus scrapes it, apart from the users' port: e.g. http://127.0.0.1:9081/metrics */
  metricsUrl: string;
  /** the assembled parts, for tests */
  deps: Deps;
  /** the session edge, with FLOE_GATEWAY_EDGE */
  edge: SessionEdge | null;
  close(): Promise<void>;
}

type App = ReturnType<typeof createApp>;

/** The Hono route of a proxied session request: the label its metrics have either way. */
const SESSION_ROUTE = '/sessions/:id/*';

/** Answers an upgrade the app refused, on the raw socket, and closes it. */
async function refuseUpgrade(socket: Duplex, res: Response) {
  const body = Buffer.from(await res.arrayBuffer());
  const lines = [`HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}`];
  for (const [name, value] of res.headers) {
    if (!['content-length', 'connection', 'transfer-encoding'].includes(name)) {
      lines.push(`${name}: ${value}`);
    }
  }
  lines.push(`content-length: ${body.length}`, 'connection: close');
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}

/** WebSocket upgrades go through the same app (and checks) as requests, with the socket. */
function upgrades(app: App, log: Logger) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let request: Request;
    try {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      request = new Request(url, { method: req.method, headers });
    } catch {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    Promise.resolve(
      app.fetch(request, { incoming: req, outgoing: undefined, upgrade: { socket, head } }),
    )
      .then((res) => (alreadySent(res) ? undefined : refuseUpgrade(socket, res)))
      .catch((err: unknown) => {
        log.error({ err, path: req.url }, 'upgrade failed');
        socket.destroy();
      });
  };
}

/** A port free on `host` now, for a listener that is not Node's (the edge's HAProxy). */
function freePort(host: string): Promise<number> {
  const probe = createServer();
  return listen(probe, 0, host, 'FLOE_GATEWAY_PORT').then(
    (port) => new Promise<number>((resolve) => probe.close(() => resolve(port))),
  );
}

/** Listens on host:port and answers the port it got (port 0: a free one). */
function listen(server: Server, port: number, host: string, setting: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} (${setting}) is in use by another program`)
          : err,
      );
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

const ignore = () => {};

/** A host as it is written in a URL: an IPv6 address in brackets. */
const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);

export interface GatewayOptions {
  /**
   * One of several processes (cluster.ts): leaves /metrics to the primary and tells the
   * other workers of the session stops it forwards.
   */
  worker?: boolean;
  /**
   * How session endpoints' host names are resolved. In a cluster the system's resolver
   * answers Service names; a program embedding the gateway elsewhere (the real-pod test,
   * playing the cluster's DNS from its API server) passes its own.
   */
  lookup?: LookupFunction;
  /** the gateway cannot go on (its edge ended): main.ts stops the process */
  onFatal?: () => void;
}

/** Starts a gateway. */
export async function startGateway(
  config: GatewayConfig,
  log: Logger,
  opts: GatewayOptions = {},
): Promise<Gateway> {
  const keys = await loadKeys(config.FLOE_GATEWAY_KEYS);
  if (!config.FLOE_GATEWAY_KEYS) {
    log.warn(
      'FLOE_GATEWAY_KEYS is not set: a signing key was generated for this process only ' +
        '(sessions end at restart, and replicas cannot share them)',
    );
  }
  const https = new URL(config.FLOE_GATEWAY_ISSUER).protocol === 'https:';
  const metrics = createMetrics();
  const control = new ControlClient({
    url: config.FLOE_CONTROL_URL,
    token: config.FLOE_GATEWAY_CONTROL_TOKEN,
    tenantCacheMs: config.FLOE_GATEWAY_TENANT_CACHE_MS,
  });
  const idps = new IdentityProviders({ insecure: config.FLOE_DEV_INSECURE_ISSUERS === 'on' });
  const sessions = new SessionManager({
    keys,
    control,
    idps,
    log,
    settings: {
      issuer: config.FLOE_GATEWAY_ISSUER,
      ttlSeconds: config.FLOE_GATEWAY_SESSION_TTL_SECONDS,
      maxSeconds: config.FLOE_GATEWAY_SESSION_MAX_SECONDS,
    },
  });
  const proxy = new SessionProxy({
    metrics,
    log,
    headers: securityHeaders(https),
    lookup: opts.lookup,
    viewerToken: (viewer) => mintViewerToken(keys, config.FLOE_GATEWAY_ISSUER, viewer),
  });
  const turn =
    config.FLOE_TURN_URLS.length > 0 && config.FLOE_TURN_SECRET
      ? new TurnOffer({
          urls: config.FLOE_TURN_URLS,
          secret: config.FLOE_TURN_SECRET,
          ttlSeconds: config.FLOE_TURN_TTL_SECONDS,
          intervalMs: config.FLOE_TURN_HEALTH_INTERVAL_MS,
          log,
          metrics,
        })
      : null;
  turn?.start();
  if (opts.worker) {
    control.peers = joinCluster({ metrics, forgetLocally: (id) => control.forgetLocally(id) });
  }
  const deps: Deps = { config, log, keys, control, idps, sessions, metrics, proxy, turn };
  const app = createApp(deps);

  // /sessions/{id}/… of a stream's owner: the fast path, in front of the app (fast-path.ts),
  // its access log counted per second (access-summary.ts)
  const summary = new AccessSummary({ log, metrics, route: SESSION_ROUTE });
  const edge =
    config.FLOE_GATEWAY_EDGE !== 'off'
      ? new SessionEdge({ sessions, control, lookup: opts.lookup, log })
      : null;
  if (edge) control.forgotten = (id) => edge.forget(id);
  const fast = new FastPath({
    issuer: config.FLOE_GATEWAY_ISSUER,
    sessions,
    control,
    proxy,
    edge: edge ?? undefined,
    record: (sessionId, entry) => summary.record(sessionId, entry),
  });
  const viaApp = getRequestListener(app.fetch);
  const upgradeViaApp = upgrades(app, log);
  const server = createServer((req, res) => fast.web(req, res, viaApp));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', ignore); // a browser's reset: 'close' follows
    fast.upgrade(req, socket, head, upgradeViaApp);
  });
  let port: number;
  const edgeKind = config.FLOE_GATEWAY_EDGE;
  if (edge && edgeKind !== 'off') {
    // the edge holds the users' port; the gateway listens where only it can reach
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(edge.gatewaySocket, () => resolve());
    });
    port = config.FLOE_GATEWAY_PORT || (await freePort(config.FLOE_GATEWAY_HOST));
    try {
      await edge.start({
        kind: edgeKind,
        program:
          config.FLOE_GATEWAY_EDGE_PROGRAM ??
          (edgeKind === 'haproxy'
            ? '/usr/sbin/haproxy'
            : floeEdgeProgram((line) => log.info(line))),
        host: config.FLOE_GATEWAY_HOST,
        port,
        threads: config.FLOE_GATEWAY_EDGE_THREADS,
        cookieName: sessions.cookieName,
        security: sessionAnswerSecurity(securityHeaders(https)),
        refusedBody: REFUSED,
        badGatewayBody: BAD_GATEWAY,
        accessLog: ['info', 'debug', 'trace'].includes(config.LOG_LEVEL),
        onExit: (reason) => {
          log.fatal({ reason }, "the edge ended: the users' port is gone");
          opts.onFatal?.();
        },
      });
    } catch (err) {
      server.close();
      await edge.close();
      throw err;
    }
    registerEdgeMetrics(metrics, edge);
  } else {
    port = await listen(
      server,
      config.FLOE_GATEWAY_PORT,
      config.FLOE_GATEWAY_HOST,
      'FLOE_GATEWAY_PORT',
    );
  }
  const metricsHost = config.FLOE_GATEWAY_METRICS_HOST ?? config.FLOE_GATEWAY_HOST;
  let metricsPort = config.FLOE_GATEWAY_METRICS_PORT;
  const metricsServer = opts.worker
    ? null
    : (createAdaptorServer({ fetch: metricsApp(metrics).fetch }) as Server);
  try {
    if (metricsServer) {
      metricsPort = await listen(
        metricsServer,
        metricsPort,
        metricsHost,
        'FLOE_GATEWAY_METRICS_PORT',
      );
    }
  } catch (err) {
    server.close();
    await edge?.close();
    proxy.close();
    summary.close();
    await turn?.stop();
    throw err;
  }
  return {
    url: `http://${urlHost(config.FLOE_GATEWAY_HOST)}:${port}`,
    metricsUrl: `http://${urlHost(metricsHost)}:${metricsPort}/metrics`,
    deps,
    edge,
    async close() {
      await edge?.close();
      proxy.close();
      await turn?.stop();
      for (const s of metricsServer ? [server, metricsServer] : [server]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      summary.close();
    },
  };
}
