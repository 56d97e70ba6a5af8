import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import { type Db, databaseUnavailable } from './db/connect.ts';
import type { Bus } from './db/notify.ts';
import type { Capacity } from './drivers/driver.ts';
import { auditScope } from './http/audit.ts';
import { type AppEnv, authenticate, fenceGateways, resolveTenant } from './http/auth.ts';
import { ApiError } from './http/errors.ts';
import type { GatewayTokenVerifier } from './http/gateway-token.ts';
import { Lookups } from './lookups.ts';
import type { Metrics } from './metrics.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { appRoutes } from './routes/apps.ts';
import { auditRoutes } from './routes/audit.ts';
import { billingRoutes } from './routes/billing.ts';
import { billingExportRoutes } from './routes/billing-export.ts';
import { clusterRoutes } from './routes/clusters.ts';
import { sqlState } from './routes/db-errors.ts';
import { gatewayRoutes } from './routes/gateway.ts';
import { identityProviderRoutes } from './routes/identity-provider.ts';
import { meRoutes } from './routes/me.ts';
import { quotaEventRoutes } from './routes/quota-events.ts';
import { sessionGrantRoutes } from './routes/session-grants.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { transferPolicyRoutes } from './routes/transfer-policy.ts';
import { usageRoutes } from './routes/usage.ts';
import { userRoutes } from './routes/users.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import type { SecretBox } from './secrets.ts';
import type { LiveCapacity } from './sessions/admission.ts';
import type { SessionHandoff } from './sessions/handoff.ts';
import type { LaunchRate } from './sessions/launch-rate.ts';
import type { ClusterOwnership } from './sessions/ownership.ts';
import type { Supervisor } from './sessions/supervisor.ts';
import type { SessionWatch } from './sessions/watch.ts';
import type { TargetPolicy } from './webhooks/target.ts';

export const MAX_BODY_BYTES = 64 * 1024;

/** the session routes, whose writes change no configuration (see Lookups) */
const SESSION_ROUTE = /^\/v1\/tenants\/[^/]+\/sessions(\/|$)/;

/** what a 503 for an unreachable database tells clients to wait */
const DATABASE_RETRY_AFTER_SECONDS = 2;

const neverAborted = new AbortController().signal;

/** a capacity that says nothing: the cluster's row is read instead (see admission.ts) */
const UNDESCRIBED: Capacity = { gpus: [], maxSessions: null };

// SQLSTATEs of text PostgreSQL refuses: invalid byte sequence, untranslatable character
const UNSTORABLE_TEXT = ['22021', '22P05'];

export interface ApiDeps {
  db: Db;
  supervisor: Supervisor;
  metrics: Metrics;
  log: Logger;
  adminToken?: string;
  /** FLOE_GATEWAY_TOKEN: a configured key of role gateway */
  gatewayToken?: string;
  /** seals and opens secrets at rest (identity providers' client secrets, kubeconfigs) */
  secrets: SecretBox;
  /** notifications from every replica: configuration changes clear the lookups */
  bus: Bus;
  /** which replica drives which cluster; absent: registering a cluster attaches no driver */
  ownership?: Pick<ClusterOwnership, 'sync' | 'observed' | 'drivenElsewhere'>;
  /** session rows as they change on any replica (launch progress) */
  sessionWatch: Pick<SessionWatch, 'watchSession'>;
  /** stops, whichever replica drives the session's cluster */
  handoff: Pick<SessionHandoff, 'launch' | 'terminate'>;
  /** verifies the gateways' identity tokens; null: only API keys are accepted */
  gatewayTokens?: GatewayTokenVerifier | null;
  /** aborted at shutdown: long-lived responses (progress streams) end */
  shutdown?: AbortSignal;
  /** how long configuration reads are cached (see Lookups) */
  lookupTtlMs?: number;
  /** development mode: identity providers may be plain http and on loopback (see issuers.ts) */
  insecureIssuers?: boolean;
  /** told after each write request (its events may be queued): wakes the webhook worker */
  afterWrite?: () => void;
  /** where webhooks may be sent (see webhooks/target.ts); default: public addresses only */
  webhookTargets?: TargetPolicy;
  /** launches per user signed in through a gateway (sessions/launch-rate.ts); absent: none */
  launchRate?: LaunchRate | null;
}

/** The control plane's HTTP API: request → authenticate → validate → decide → persist → act. */
export function createApi(deps: ApiDeps) {
  const { db, metrics, log } = deps;
  const lookups = new Lookups(db, { ttlMs: deps.lookupTtlMs ?? 5_000 });
  // a change of configuration on any replica (this one too) clears the lookups at once;
  // so does a reconnection of the bus, after which changes may have been missed
  deps.bus.subscribe('config', () => lookups.clear());
  deps.bus.onResync(() => lookups.clear());
  // live capacity: from this replica's driver, else as the replica that drives the cluster
  // last wrote it
  const capacityOf: LiveCapacity = (id) =>
    deps.supervisor.capacity(id) ?? deps.ownership?.observed(id);
  // for admission, a cluster another replica drives but has not described yet (it just took
  // it over) is taken as reachable with its row's inventory: capacity is advisory there,
  // and the cluster has the final word
  const admissionCapacityOf: LiveCapacity = (id) =>
    capacityOf(id) ??
    (deps.ownership?.drivenElsewhere(id) ? Promise.resolve(UNDESCRIBED) : undefined);
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const details = result.error.issues.map((i) => ({
          path: i.path.join('.'),
          message: i.message,
        }));
        const first = details[0];
        throw new ApiError(
          400,
          'invalid_request',
          first ? `${first.path || 'request'}: ${first.message}` : 'invalid request',
          { details },
        );
      }
    },
  });

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath;
    metrics.requests.observe({ method: c.req.method, route, status: c.res.status }, seconds);
    log.debug(
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: seconds * 1000 },
      'request',
    );
  });
  app.use('*', secureHeaders());
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(
          413,
          'payload_too_large',
          `request bodies are limited to ${MAX_BODY_BYTES} bytes`,
        );
      },
    }),
  );

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json(err.body(), err.status);
    }
    if (UNSTORABLE_TEXT.includes(sqlState(err) ?? '')) {
      // text PostgreSQL cannot store, e.g. a NUL character that JSON allows
      return c.json(
        { error: { code: 'invalid_request', message: 'a value in the request cannot be stored' } },
        400,
      );
    }
    if (databaseUnavailable(err)) {
      // PostgreSQL restarting or failing over: the request may be retried as it is
      log.warn({ err, path: c.req.path }, 'database unavailable');
      c.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      return c.json(
        {
          error: {
            code: 'database_unavailable',
            message: 'the database cannot be reached at the moment; retry shortly',
          },
        },
        503,
      );
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own 4xx, e.g. a body that is not JSON
      return c.json({ error: { code: 'invalid_request', message: err.message } }, err.status);
    }
    log.error({ err, path: c.req.path }, 'unhandled error');
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  });
  let allowedMethods: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    // a path that exists, asked with a method it does not take (TRACE, OPTIONS, PUT…): 405
    allowedMethods ??= methodsByPath(app.routes);
    const allowed = allowedMethods(c.req.path);
    if (allowed.length > 0) {
      return c.json(
        {
          error: {
            code: 'method_not_allowed',
            message: `${c.req.method} is not allowed on ${c.req.path} (allowed: ${allowed.join(', ')})`,
          },
        },
        405,
        { Allow: allowed.join(', ') },
      );
    }
    return c.json(
      { error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } },
      404,
    );
  });

  app.get('/healthz', async (c) => {
    await db.execute(sql`select 1`);
    return c.json({ status: 'ok' });
  });
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );

  app.use(
    '/v1/*',
    authenticate({
      db,
      lookups,
      adminToken: deps.adminToken,
      gatewayToken: deps.gatewayToken,
      gatewayTokens: deps.gatewayTokens ?? null,
    }),
  );
  app.use('/v1/*', fenceGateways());
  app.use('/v1/*', auditScope(log));
  app.use('/v1/*', async (c, next) => {
    await next();
    // any change to configuration (not a session's launch or stop) refreshes the lookups
    // before the answer (the bus clears them too, and the other replicas'); the session
    // routes are matched whole: a tenant whose slug holds "sessions" is configuration
    if (c.req.method !== 'GET' && !SESSION_ROUTE.test(c.req.path)) lookups.clear();
    if (c.req.method !== 'GET' && c.res.status < 400) deps.afterWrite?.();
  });
  // '/v1/tenants/:tenant/*' also matches the tenant itself
  app.use('/v1/tenants/:tenant/*', resolveTenant(lookups));

  app.route('/', tenantRoutes(db));
  app.route('/', userRoutes(db, lookups));
  app.route('/', apiKeyRoutes(db, lookups));
  app.route('/', appRoutes(db, lookups));
  app.route('/', transferPolicyRoutes(db, lookups));
  app.route(
    '/',
    clusterRoutes({
      db,
      secrets: deps.secrets,
      capacityOf,
      clustersChanged: deps.ownership && (() => deps.ownership?.sync() ?? Promise.resolve()),
    }),
  );
  app.route(
    '/',
    identityProviderRoutes(db, deps.secrets, { insecureIssuers: deps.insecureIssuers ?? false }),
  );
  app.route(
    '/',
    sessionRoutes({
      ...deps,
      lookups,
      capacityOf: admissionCapacityOf,
      shutdown: deps.shutdown ?? neverAborted,
    }),
  );
  app.route('/', sessionGrantRoutes(db, lookups));
  app.route('/', usageRoutes(db));
  app.route('/', quotaEventRoutes(db));
  app.route('/', billingRoutes(db));
  app.route('/', billingExportRoutes(db));
  app.route('/', gatewayRoutes(db, lookups, deps.secrets));
  app.route('/', meRoutes(lookups));
  app.route('/', auditRoutes(db));
  app.route(
    '/',
    webhookRoutes(
      db,
      deps.secrets,
      deps.webhookTargets ?? { allowPrivate: false, deniedCidrs: [] },
    ),
  );

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'an API key (floe_…), or a gateway’s identity token (an ES256 JWT for audience ' +
      'floe-control) naming the signed-in user',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Floe control plane',
      version: '0.1.0',
      description:
        'Tenants, users, API keys, identity providers, apps, clusters, sessions, usage, the ' +
        'audit log and webhooks; ' +
        'and what the regional gateways read (/v1/gateway/*).',
    },
  });
  mountDocs(app);
  return app;
}

/** The methods each route path answers (HEAD wherever GET), looked up by a request's path. */
export function methodsByPath(routes: { method: string; path: string }[]) {
  const byPath = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    if (method === 'ALL' || path.includes('*')) continue; // middleware
    const methods = byPath.get(path) ?? new Set<string>();
    methods.add(method.toUpperCase());
    if (method.toUpperCase() === 'GET') methods.add('HEAD');
    byPath.set(path, methods);
  }
  const table = [...byPath].map(([path, methods]) => {
    const segments = path
      .split('/')
      .map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    return { pattern: new RegExp(`^${segments.join('/')}$`), methods };
  });
  return (path: string): string[] => {
    const allowed = new Set<string>();
    for (const { pattern, methods } of table) {
      if (pattern.test(path)) for (const m of methods) allowed.add(m);
    }
    return [...allowed].sort();
  };
}

/** /docs: Swagger UI served from the swagger-ui-dist package, no CDN. */
function mountDocs(app: OpenAPIHono<AppEnv>) {
  const dist = join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');
  const assets: Record<string, string> = {
    'swagger-ui.css': 'text/css',
    'swagger-ui-bundle.js': 'text/javascript',
  };
  app.get('/docs/:asset', (c) => {
    const name = c.req.param('asset');
    const type = assets[name];
    if (!type) return c.notFound();
    return c.body(readFileSync(join(dist, name)), 200, {
      'content-type': type,
      'cache-control': 'public, max-age=86400',
    });
  });
  app.get('/docs', (c) =>
    c.html(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Floe control plane API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true });</script>
</body></html>`),
  );
}
