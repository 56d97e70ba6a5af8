// The gateway's HTTP app: the same Hono app answers plain requests and WebSocket upgrades
// (server.ts hands it those with the socket), so both go through one set of checks.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ControlPlaneUnavailable, IdentityRefused } from './control-client.ts';
import type { Deps } from './deps.ts';
import { accessLog } from './http/access-log.ts';
import type { GatewayEnv } from './http/env.ts';
import { jsonError } from './http/respond.ts';
import { securityHeadersMiddleware } from './http/security-headers.ts';
import { apiRoutes } from './routes/api.ts';
import { extAuthzRoutes } from './routes/ext-authz.ts';
import { loginRoutes } from './routes/login.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { webRoutes } from './routes/web.ts';

export function createApp(deps: Deps) {
  const { config, log, metrics, sessions } = deps;
  const https = new URL(config.FLOE_GATEWAY_ISSUER).protocol === 'https:';
  const app = new Hono<GatewayEnv>();

  app.use('*', accessLog(log, metrics));
  app.use('*', securityHeadersMiddleware(https));
  // WebSockets exist under /sessions/ only
  app.use('*', async (c, next) => {
    if (c.env.upgrade && !c.req.path.startsWith('/sessions/')) {
      return jsonError(c, 404, 'not_found', 'no WebSocket here');
    }
    return next();
  });

  app.onError((err, c) => {
    if (err instanceof ControlPlaneUnavailable) {
      metrics.upstreamErrors.inc({ upstream: 'control' });
      log.warn({ err: err.message, path: c.req.path }, 'control plane unavailable');
      return jsonError(c, 502, 'bad_gateway', 'the control plane did not answer; try again', {
        'retry-after': '5',
      });
    }
    if (err instanceof IdentityRefused) {
      // the control plane no longer accepts this user (e.g. removed from the tenant)
      sessions.clear(c);
      return jsonError(c, 401, 'unauthorized', err.message);
    }
    if (err instanceof HTTPException && err.status < 500) {
      return jsonError(c, err.status, 'bad_request', err.message);
    }
    log.error({ err, path: c.req.path }, 'unhandled error');
    return jsonError(c, 500, 'internal', 'internal error');
  });
  app.notFound((c) => jsonError(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path}`));

  app.route('/', loginRoutes(deps));
  app.route('/', apiRoutes(deps));
  app.route('/', sessionRoutes(deps));
  app.route('/', extAuthzRoutes(deps));
  app.route('/', webRoutes(deps));
  return app;
}
