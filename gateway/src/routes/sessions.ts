// /sessions/{id}/*: a session's stream (page, assets and the signalling WebSocket), proxied
// to its endpoint for its owner only, and /sessions/{id}/turn, its ICE servers. Whatever
// the reason for a refusal (unknown, another user's, not running), the answer is 404.
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import type { Deps } from '../deps.ts';
import { requestOrigin } from '../host.ts';
import { fromOrigin } from '../http/csrf.ts';
import type { GatewayEnv } from '../http/env.ts';
import { jsonError } from '../http/respond.ts';
import { loadUser, requireCsrf, requireUser } from '../http/session-middleware.ts';
import { isSessionId, type SessionAccess, sessionAccess } from '../sessions/access.ts';

export function sessionRoutes(deps: Deps) {
  const { config, control, sessions, proxy, turn } = deps;
  const issuer = config.FLOE_GATEWAY_ISSUER;
  const app = new Hono<GatewayEnv>();

  async function access(c: Context<GatewayEnv>, id: string): Promise<SessionAccess> {
    if (!isSessionId(id)) return { allow: false };
    const user = c.get('user')!;
    const userId = await sessions.userId(c, user);
    const session = await control.session(id);
    return sessionAccess(session, { tenantId: user.tenant_id, userId });
  }

  const notFound = (c: Context<GatewayEnv>) => jsonError(c, 404, 'not_found', 'no such session');

  app.use('/sessions/*', loadUser(sessions), requireUser('page'), requireCsrf(issuer));

  // the stream page resolves `signal` (and its assets) relative to itself: it must be
  // loaded as /sessions/{id}/
  app.get('/sessions/:id', (c) => {
    if (c.env.upgrade) return notFound(c);
    const { search } = new URL(c.req.url);
    return c.redirect(`/sessions/${encodeURIComponent(c.req.param('id'))}/${search}`, 301);
  });

  app.get('/sessions/:id/turn', async (c) => {
    const id = c.req.param('id');
    if (c.env.upgrade || !(await access(c, id)).allow) return notFound(c);
    const offer = turn ? turn.iceServers(id) : { iceServers: [], expiresAt: null };
    return c.json(offer, 200, { 'cache-control': 'no-store' });
  });

  app.all('/sessions/:id/*', async (c) => {
    const id = c.req.param('id');
    const upgrade = c.env.upgrade;
    if (upgrade) {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        return jsonError(c, 400, 'bad_request', 'only WebSocket upgrades are proxied');
      }
      // browsers always send Origin on WebSocket handshakes; another site's page must not
      // ride on the user's cookie (cross-site WebSocket hijacking)
      const origin = c.req.header('origin');
      if (!origin || !fromOrigin({ origin }, requestOrigin(c.req.header('host'), issuer))) {
        return jsonError(c, 403, 'forbidden', 'cross-origin WebSocket refused');
      }
    }
    const verdict = await access(c, id);
    if (!verdict.allow) return notFound(c);
    const url = new URL(c.req.url);
    const path = url.pathname.slice(`/sessions/${id}`.length) + url.search;
    if (upgrade) {
      proxy.ws(c.env.incoming, upgrade.socket, upgrade.head, verdict.endpoint, path);
    } else {
      // with the cookies set on the way (a renewed session); c.res must not be touched here:
      // a response Hono has materialised would be written over the proxy's
      proxy.web(c.env.incoming, c.env.outgoing!, verdict.endpoint, path, c.get('setCookies') ?? []);
    }
    return RESPONSE_ALREADY_SENT;
  });

  return app;
}
