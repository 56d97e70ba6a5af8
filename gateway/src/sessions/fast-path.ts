// The hot path of a stream: /sessions/{id}/… requests and WebSocket upgrades of the
// session's signed-in owner, answered by a plain Node handler in front of the Hono app.
// Hono's Request/Response adaptation and middleware cost most of a proxied request's CPU
// (docs/benchmarks.md); this does only the checks that path needs, from the caches the Hono
// path fills: the cookie (verified before), the host's tenant, the CSRF check, the session's
// owner and state. It only ever says yes: anything it is not sure of (nothing cached yet, a
// refusal, a cookie to renew or to set, the app's own routes — the stream page and its
// bundle, turn, state, share links —, a WebSocket other than the signalling, an unusual URL
// or Host, a viewer the session is shared with: only its owner goes this way) goes to the
// Hono app, which answers exactly as it does without this path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseCookies } from 'hono/utils/cookie';
import type { SessionClaims } from '../auth/session-token.ts';
import type { Viewer } from '../auth/viewer-token.ts';
import type { GatewaySession } from '../control-client.ts';
import type { EdgeGrant } from '../edge/edge.ts';
import { hostnameOf, requestOrigin, tenantHostname } from '../host.ts';
import { CSRF_COOKIE, CSRF_HEADER, checkCsrf, fromOrigin, isStateChanging } from '../http/csrf.ts';
import { sessionAccess } from './access.ts';
import { SIGNAL, STREAM_ASSETS, STREAM_PAGE } from './stream-page.ts';

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/**
 * URLs the Hono app sees exactly as they are written (no percent-decoding or dot segments
 * for the URL parser to normalise): path characters without `%`, `#`, `[`, `]`, `\`; the
 * query (non-empty) may have `%`. Anything else goes the Hono way. The edge (edge/) takes
 * the same URLs only, from this pattern's source.
 */
export const SESSION_URL = new RegExp(
  `^/sessions/(${UUID})(/[!$&-;=@-Z_a-z~]*)(\\?[!$%-;=?-\\[\\]_a-z~]+)?$`,
);
export const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
/** The Hono app's own routes under /sessions/{id}: never proxied to the session. */
export const OWN_PATHS: ReadonlySet<string> = new Set([
  '/turn',
  '/state',
  '/viewer-actions',
  STREAM_PAGE,
  ...STREAM_ASSETS,
]);
export const OWN_PREFIXES: readonly string[] = ['/links/'];

/** The session and the path to forward of a URL the fast path may take; null otherwise. */
export function fastTarget(url: string): { id: string; path: string; query: string } | null {
  const m = SESSION_URL.exec(url);
  if (!m) return null;
  const path = m[2] as string;
  if (
    OWN_PATHS.has(path) ||
    OWN_PREFIXES.some((p) => path.startsWith(p)) ||
    DOT_SEGMENT.test(path)
  ) {
    return null;
  }
  return { id: m[1] as string, path, query: m[3] ?? '' };
}

/** What a Host header means here: the origin it addresses, the tenant host name it names. */
interface HostInfo {
  origin: string;
  tenantHost: string | null;
}

/** What the fast path needs of the rest of the gateway. */
export interface FastPathDeps {
  issuer: string;
  sessions: {
    readonly cookieName: string;
    cachedClaims(token: string): SessionClaims | undefined;
    settled(claims: SessionClaims, csrfCookie: string | undefined, renew: boolean): boolean;
  };
  control: {
    cachedSession(id: string): GatewaySession | undefined;
    session(id: string): Promise<GatewaySession | null>;
    cachedTenantByHost(hostname: string): { tenant: { id: string } } | null | undefined;
  };
  proxy: {
    web(
      req: IncomingMessage,
      res: ServerResponse,
      target: string,
      path: string,
      cookies: readonly string[],
      onEnd: () => void,
    ): void;
    ws(
      req: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      target: string,
      path: string,
      viewer: Viewer,
    ): void;
  };
  /** the session edge, told of each GET it may take from now on (edge/edge.ts) */
  edge?: { allow(grant: EdgeGrant): void };
  /** the access log and metrics of a request the fast path served (access-summary.ts) */
  record(
    sessionId: string,
    entry: {
      method: string;
      path: string;
      status: number;
      ms: number;
      user: string;
      upgrade?: true;
    },
  ): void;
}

type Jar = { header: string; token: string | undefined; csrfCookie: string | undefined };

/** Where a connection keeps the jar of the Cookie header it last sent (see `cookies`). */
const LAST_JAR = Symbol('floe.lastJar');
type JarSocket = { [LAST_JAR]?: Jar };

type WebFallback = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeFallback = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const NO_COOKIES: readonly string[] = [];

export class FastPath {
  private readonly deps: FastPathDeps;
  private readonly hosts = new Map<string, HostInfo | null>();
  private readonly jars = new Map<string, Jar>();

  constructor(deps: FastPathDeps) {
    this.deps = deps;
  }

  /** Host headers are the browser's to choose: their meaning is cached, boundedly. */
  private host(header: string | undefined): HostInfo | null {
    if (!header) return null;
    let info = this.hosts.get(header);
    if (info === undefined) {
      const { issuer } = this.deps;
      info = hostnameOf(header)
        ? { origin: requestOrigin(header, issuer), tenantHost: tenantHostname(header, issuer) }
        : null;
      if (this.hosts.size >= 1_000) this.hosts.clear();
      this.hosts.set(header, info);
    }
    return info;
  }

  /**
   * The session and CSRF cookies of a Cookie header: a browser sends the same one each time,
   * so the jar is remembered by the header, and on the connection that last sent it. A
   * Cookie header is a new string of a few hundred bytes per request; comparing it with the
   * connection's last one costs less than hashing it for the map (a Map lookup hashes the
   * whole string, which showed in the profile).
   */
  private cookies(header: string, socket: JarSocket): Jar {
    const last = socket[LAST_JAR];
    if (last !== undefined && last.header === header) return last;
    let jar = this.jars.get(header);
    if (!jar) {
      const all = parseCookies(header);
      jar = { header, token: all[this.deps.sessions.cookieName], csrfCookie: all[CSRF_COOKIE] };
      if (this.jars.size >= 10_000) this.jars.clear();
      this.jars.set(header, jar);
    }
    socket[LAST_JAR] = jar;
    return jar;
  }

  /**
   * The signed-in user of a request whose cookie needs no answer (see SessionManager.settled),
   * when its tenant may use this host; null when the Hono app must decide.
   */
  private user(
    req: IncomingMessage,
    host: HostInfo,
    renew: boolean,
  ): { token: string; claims: SessionClaims; csrfCookie: string | undefined } | null {
    const header = req.headers.cookie;
    if (!header) return null;
    const { sessions, control } = this.deps;
    const { token, csrfCookie } = this.cookies(header, req.socket as JarSocket);
    if (!token) return null;
    const claims = sessions.cachedClaims(token);
    if (!claims) return null;
    if (host.tenantHost) {
      const tenant = control.cachedTenantByHost(host.tenantHost);
      if (tenant === undefined || (tenant && tenant.tenant.id !== claims.tenant_id)) return null;
    }
    return sessions.settled(claims, csrfCookie, renew) ? { token, claims, csrfCookie } : null;
  }

  /** The session's endpoint when it runs and is this user's; null otherwise. */
  private endpoint(session: GatewaySession | null, claims: SessionClaims): string | null {
    const verdict = sessionAccess(session, { tenantId: claims.tenant_id, userId: claims.uid });
    return verdict.allow ? verdict.endpoint : null;
  }

  /** Runs `then` with the session, from the cache or (once it is known) the control plane. */
  private withSession(id: string, then: (s: GatewaySession | null) => void, fail: () => void) {
    const cached = this.deps.control.cachedSession(id);
    if (cached) then(cached);
    else this.deps.control.session(id).then(then, fail);
  }

  /** Serves an HTTP request, or hands it to `fallback` (the Hono app). */
  web(req: IncomingMessage, res: ServerResponse, fallback: WebFallback) {
    const started = performance.now();
    const target = fastTarget(req.url ?? '');
    const host = target && this.host(req.headers.host);
    const user = host && this.user(req, host, true);
    if (!target || !host || !user) return fallback(req, res);
    const method = req.method ?? 'GET';
    if (isStateChanging(method)) {
      const h = req.headers;
      const verdict = checkCsrf({
        method,
        origin: h.origin,
        referer: h.referer,
        expectedOrigin: host.origin,
        headerToken: h[CSRF_HEADER] as string | undefined,
        cookieToken: user.csrfCookie,
        sessionToken: user.claims.csrf,
      });
      if (!verdict.ok) return fallback(req, res);
    }
    const { claims } = user;
    this.withSession(
      target.id,
      (session) => {
        const endpoint = this.endpoint(session, claims);
        if (!endpoint) return fallback(req, res);
        if (method === 'GET' || method === 'HEAD') {
          this.deps.edge?.allow({
            token: user.token,
            host: req.headers.host as string,
            sessionId: target.id,
            endpoint,
            claims,
            csrfCookie: user.csrfCookie,
          });
        }
        this.deps.proxy.web(req, res, endpoint, target.path + target.query, NO_COOKIES, () =>
          this.deps.record(target.id, {
            method,
            path: `/sessions/${target.id}${target.path}`,
            status: res.statusCode,
            ms: performance.now() - started,
            user: claims.email,
          }),
        );
      },
      () => fallback(req, res),
    );
  }

  /** Proxies a WebSocket upgrade, or hands it to `fallback` (the Hono app). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, fallback: UpgradeFallback) {
    const started = performance.now();
    const target = fastTarget(req.url ?? '');
    const host = target && this.host(req.headers.host);
    const user = host && this.user(req, host, false);
    const h = req.headers;
    // browsers always send Origin on WebSocket handshakes; another site's page must not
    // ride on the user's cookie (cross-site WebSocket hijacking)
    if (
      !target ||
      target.path !== SIGNAL ||
      !host ||
      !user ||
      req.method !== 'GET' ||
      h.upgrade?.toLowerCase() !== 'websocket' ||
      !h.origin ||
      !fromOrigin({ origin: h.origin }, host.origin)
    ) {
      return fallback(req, socket, head);
    }
    const { claims } = user;
    this.withSession(
      target.id,
      (session) => {
        const endpoint = this.endpoint(session, claims);
        if (!endpoint || socket.destroyed) return fallback(req, socket, head);
        const viewer = {
          sessionId: target.id,
          userId: session!.userId,
          role: 'owner' as const,
          name: claims.email,
        };
        this.deps.proxy.ws(req, socket, head, endpoint, target.path + target.query, viewer);
        this.deps.record(target.id, {
          method: 'GET',
          path: `/sessions/${target.id}${target.path}`,
          status: 101,
          ms: performance.now() - started,
          user: claims.email,
          upgrade: true,
        });
      },
      () => fallback(req, socket, head),
    );
  }
}
