// The gateway's settings: environment variables parsed once, at start, with zod. A bad
// value stops the start with a message that names the variable.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { isLoopbackHost } from './host.ts';

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

// "is required" rather than zod's "expected string, received undefined"
const required = {
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : undefined),
};

/** https, or http for loopback only (a plain-http gateway anywhere else leaks cookies). */
const publicUrl = z
  .url({ protocol: /^https?$/, ...required })
  .refine((s) => {
    const url = new URL(s);
    return url.protocol === 'https:' || isLoopbackHost(url.hostname);
  }, 'must be https (http only for localhost, 127.0.0.1 or [::1])')
  .refine((s) => {
    const url = new URL(s);
    return !url.search && !url.hash && !url.username && !url.password && url.pathname === '/';
  }, 'must be an origin such as https://floe.example (no path, query or credentials)')
  .transform((s) => new URL(s).origin);

const ConfigSchema = z
  .object({
    FLOE_GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(8081),
    FLOE_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
    /** Prometheus' /metrics, on a listener of its own: never on the port users reach */
    FLOE_GATEWAY_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).default(9081),
    /** unset: FLOE_GATEWAY_HOST, so a pod's scraper reaches it where users reach the gateway */
    FLOE_GATEWAY_METRICS_HOST: z.string().min(1).optional(),
    /** the gateway's public origin: redirect URIs, cookies' Secure flag, its JWTs' `iss` */
    FLOE_GATEWAY_ISSUER: publicUrl,
    FLOE_CONTROL_URL: z
      .url({ protocol: /^https?$/, ...required })
      .transform((s) => s.replace(/\/+$/, '')),
    /** a control-plane API key of role `gateway` */
    FLOE_GATEWAY_CONTROL_TOKEN: z.string(required).min(16, 'must be at least 16 characters'),
    /** JWKS JSON with private keys (ES256, P-256); the first signs, all verify */
    FLOE_GATEWAY_KEYS: z.string().optional(),
    FLOE_GATEWAY_SESSION_TTL_SECONDS: z.coerce.number().int().min(2).max(86_400).default(900),
    FLOE_GATEWAY_SESSION_MAX_SECONDS: z.coerce
      .number()
      .int()
      .min(2)
      .max(30 * 86_400)
      .default(43_200),
    FLOE_GATEWAY_WEB_DIR: z.string().min(1).optional(),
    /** gateway processes (node:cluster); auto: one per core. 1: this process alone */
    FLOE_GATEWAY_WORKERS: z
      .union([z.literal('auto'), z.coerce.number().int().min(1).max(256)])
      .default(1)
      .transform((n) => (n === 'auto' ? availableParallelism() : n)),
    /**
     * haproxy or floe-edge (gateway/edge-proxy, Rust): a proxy holds the users' port and takes
     * a stream's hot path (edge/edge.ts)
     */
    FLOE_GATEWAY_EDGE: z.enum(['off', 'haproxy', 'floe-edge']).default('off'),
    /** default: /usr/sbin/haproxy; floe-edge built from gateway/edge-proxy with cargo */
    FLOE_GATEWAY_EDGE_PROGRAM: z.string().min(1).optional(),
    FLOE_GATEWAY_EDGE_THREADS: z.coerce.number().int().min(1).max(64).default(1),
    FLOE_GATEWAY_TENANT_CACHE_MS: z.coerce.number().int().min(0).default(30_000),
    FLOE_GATEWAY_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024),
    FLOE_OIDC_SCOPES: z
      .string()
      .default('openid email profile')
      .refine((s) => s.split(/\s+/).includes('openid'), 'must include openid'),
    /** development mode: identity providers may be plain http, on loopback or private hosts */
    FLOE_DEV_INSECURE_ISSUERS: z.enum(['on', 'off']).default('off'),
    FLOE_TURN_URLS: z.string().default('').transform(list),
    FLOE_TURN_SECRET: z.string().min(1).optional(),
    FLOE_TURN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
    FLOE_TURN_HEALTH_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .refine((c) => c.FLOE_TURN_URLS.length === 0 || c.FLOE_TURN_SECRET, {
    path: ['FLOE_TURN_SECRET'],
    message: 'FLOE_TURN_SECRET is required when FLOE_TURN_URLS is set',
  })
  .refine((c) => c.FLOE_GATEWAY_WORKERS === 1 || c.FLOE_GATEWAY_KEYS, {
    path: ['FLOE_GATEWAY_KEYS'],
    message: 'is required when FLOE_GATEWAY_WORKERS is above 1 (the workers must share it)',
  })
  .refine((c) => c.FLOE_GATEWAY_EDGE === 'off' || c.FLOE_GATEWAY_WORKERS === 1, {
    path: ['FLOE_GATEWAY_WORKERS'],
    message:
      'must be 1 with FLOE_GATEWAY_EDGE (the edge takes the hot path; add FLOE_GATEWAY_EDGE_THREADS)',
  })
  .refine((c) => c.FLOE_GATEWAY_SESSION_TTL_SECONDS <= c.FLOE_GATEWAY_SESSION_MAX_SECONDS, {
    path: ['FLOE_GATEWAY_SESSION_TTL_SECONDS'],
    message: 'must not exceed FLOE_GATEWAY_SESSION_MAX_SECONDS',
  });

export type GatewayConfig = z.infer<typeof ConfigSchema>;
export type GatewayConfigInput = z.input<typeof ConfigSchema>;

/** Parses the environment once; a bad value stops the start with a message naming it. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export const HELP = `floe-gateway: the regional gateway. Signs users in with their tenant's OpenID
Provider, forwards /api/* to the control plane with their identity, routes /sessions/{id}/
(HTTP and WebSocket) to the session's streamer for its owner only, mints TURN credentials and
answers Istio's ext_authz checks.

Usage: npx node gateway/src/main.ts [--help] [--generate-key]
  --generate-key   print a new signing key (a JWKS with one private ES256 key) and exit;
                   to rotate, put it first in FLOE_GATEWAY_KEYS and keep the old one after it
                   until FLOE_GATEWAY_SESSION_TTL_SECONDS have passed

Configuration (environment):
  FLOE_GATEWAY_ISSUER             the gateway's public origin, e.g. https://floe.example
                                  (required; http only for localhost/127.0.0.1). Redirect
                                  URIs are <origin>/callback; its JWTs carry it as "iss"
  FLOE_CONTROL_URL                the control plane, e.g. http://control:8080 (required)
  FLOE_GATEWAY_CONTROL_TOKEN      control-plane API key of role "gateway" (required)
  FLOE_GATEWAY_KEYS               JWKS JSON of private ES256 keys: the first signs, all are
                                  published at /.well-known/jwks.json and verify. Unset: one
                                  is generated at start (one replica only; sessions end at
                                  restart)
  FLOE_GATEWAY_PORT / _HOST       listen address (8081, 127.0.0.1)
  FLOE_GATEWAY_WORKERS            processes serving the port (node:cluster), or auto: one
                                  per core (1). Above 1, FLOE_GATEWAY_KEYS is required; the
                                  caches are per process
  FLOE_GATEWAY_EDGE               haproxy or floe-edge: HAProxy, or Floe's own edge proxy
                                  (gateway/edge-proxy, Rust), holds the users' port and
                                  sends the owner's GETs of a session's own paths straight
                                  to the session, once this gateway has let that cookie
                                  through, with the same answer rules; the gateway keeps the
                                  rest on a private socket (docs/security.md). off
                                  (default): the gateway alone. Needs FLOE_GATEWAY_WORKERS=1
  FLOE_GATEWAY_EDGE_PROGRAM       the edge's program (haproxy: /usr/sbin/haproxy, 2.6 or
                                  later; floe-edge: built with cargo into ~/.cache/floe at
                                  the first start)
  FLOE_GATEWAY_EDGE_THREADS       HAProxy's threads (1; floe-edge runs one)
  FLOE_GATEWAY_METRICS_PORT / _HOST  Prometheus /metrics on a listener of its own, apart
                                  from the users' port (9081; host: FLOE_GATEWAY_HOST)
  FLOE_GATEWAY_SESSION_TTL_SECONDS  session cookie lifetime, renewed past half of it (900)
  FLOE_GATEWAY_SESSION_MAX_SECONDS  sign in again after this long, active or not (43200)
  FLOE_GATEWAY_WEB_DIR            built web app (web/dist): the launcher at /, the stream page
                                  at /sessions/{id}/, to signed-in users
  FLOE_GATEWAY_TENANT_CACHE_MS    how long tenant lookups are cached (30000)
  FLOE_GATEWAY_BODY_LIMIT_BYTES   request body limit on /api (1048576)
  FLOE_OIDC_SCOPES                scopes asked of identity providers (openid email profile)
  FLOE_DEV_INSECURE_ISSUERS       on: identity providers may be plain http and on loopback
                                  or private addresses (development only). off (default):
                                  https to public addresses only, checked at each request
  FLOE_TURN_URLS                  TURN servers (turn:/turns: URLs, comma-separated)
  FLOE_TURN_SECRET                their shared secret (coturn's static-auth-secret)
  FLOE_TURN_TTL_SECONDS           lifetime of minted TURN credentials (3600)
  FLOE_TURN_HEALTH_INTERVAL_MS    each TURN server is probed this often; only healthy ones
                                  are offered (15000)
  LOG_LEVEL                       fatal|error|warn|info|debug|trace|silent (info)
`;
