// Istio's external authorization (HTTP ext_authz): in a cluster, Istio routes /sessions/
// itself (a VirtualService per session) and asks the gateway first, sending the original
// request's method, headers (those listed in includeRequestHeadersInCheck) and path under
// /ext-authz. 200 allows, with who the user is in x-floe-* headers for the upstream (and, for
// a session's signalling, the viewer token that opens it at the streamer, as `authorization`:
// Istio routes only that WebSocket to the pod); 401 (not signed in) and 403 (signed in, not
// allowed) deny. The mesh config is in gateway/README.md.
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { mintViewerToken } from '../auth/viewer-token.ts';
import type { Deps } from '../deps.ts';
import { requestOrigin } from '../host.ts';
import { CSRF_COOKIE, CSRF_HEADER, checkCsrf, fromOrigin } from '../http/csrf.ts';
import type { GatewayEnv } from '../http/env.ts';
import { jsonError } from '../http/respond.ts';
import { loadUser } from '../http/session-middleware.ts';
import { isSessionId, streamAccess } from '../sessions/access.ts';
import { SHARE_COOKIE, SHARE_QUERY, shareTokenGrant } from '../sessions/share-link.ts';
import { SIGNAL } from '../sessions/stream-page.ts';

export const EXT_AUTHZ_PREFIX = '/ext-authz';

const SESSION_PATH = /^\/sessions\/([^/]+)(?:\/|$)/;

export function extAuthzRoutes(deps: Deps) {
  const { config, control, sessions, keys } = deps;
  const issuer = config.FLOE_GATEWAY_ISSUER;
  const app = new Hono<GatewayEnv>();

  app.all(`${EXT_AUTHZ_PREFIX}/*`, loadUser(sessions), async (c) => {
    const path = c.req.path.slice(EXT_AUTHZ_PREFIX.length) || '/';
    const user = c.get('user');
    if (!user) return jsonError(c, 401, 'unauthorized', 'sign in first (at /login)');
    const origin = requestOrigin(c.req.header('host'), issuer);
    if (path.startsWith('/api/') || path.startsWith('/sessions/')) {
      const csrf = checkCsrf({
        method: c.req.method,
        origin: c.req.header('origin'),
        referer: c.req.header('referer'),
        expectedOrigin: origin,
        headerToken: c.req.header(CSRF_HEADER),
        cookieToken: getCookie(c, CSRF_COOKIE),
        sessionToken: user.csrf,
      });
      if (!csrf.ok) return jsonError(c, 403, 'csrf', csrf.reason);
    }
    const session = path.match(SESSION_PATH)?.[1];
    let userId = user.uid;
    let viewerToken: string | undefined;
    if (session !== undefined) {
      if (c.req.header('upgrade')?.toLowerCase() === 'websocket') {
        const wsOrigin = c.req.header('origin');
        if (!wsOrigin || !fromOrigin({ origin: wsOrigin }, origin)) {
          return jsonError(c, 403, 'forbidden', 'cross-origin WebSocket refused');
        }
      }
      userId = await sessions.userId(c, user);
      const found = isSessionId(session) ? await control.session(session) : null;
      // a share link's token: in the original request's query, or its cookie once opened
      const query = new URL(path, 'http://x').searchParams.get(SHARE_QUERY) ?? undefined;
      const link = await shareTokenGrant(
        keys,
        issuer,
        session,
        query ?? getCookie(c, SHARE_COOKIE),
      );
      const verdict = streamAccess(found, { tenantId: user.tenant_id, userId }, link);
      if (!verdict.allow) return jsonError(c, 403, 'forbidden', 'not your session');
      if (path.split('?')[0] === `/sessions/${session}${SIGNAL}`) {
        const viewer = {
          sessionId: session,
          userId: verdict.role === 'owner' ? found!.userId : userId!,
          role: verdict.role,
          name: user.email,
        };
        viewerToken = await mintViewerToken(keys, issuer, viewer);
      }
    }
    return c.body(null, 200, {
      'x-floe-user': user.email,
      'x-floe-user-id': userId ?? '',
      'x-floe-tenant': user.tenant,
      'x-floe-tenant-id': user.tenant_id,
      'x-floe-role': user.role,
      ...(viewerToken && { authorization: `Bearer ${viewerToken}` }),
      'cache-control': 'no-store',
    });
  });

  return app;
}
