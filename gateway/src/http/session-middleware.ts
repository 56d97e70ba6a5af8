// Middleware around the session: who is signed in, what an anonymous request gets, and
// the CSRF check for state-changing requests.
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { SessionManager } from '../auth/sessions.ts';
import { requestOrigin } from '../host.ts';
import { CSRF_COOKIE, CSRF_HEADER, checkCsrf } from './csrf.ts';
import type { GatewayEnv } from './env.ts';
import { jsonError } from './respond.ts';

/** Sets `user` (null when anonymous); renews the cookie when due, except on upgrades. */
export function loadUser(sessions: SessionManager): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const user = await sessions.current(c, { renew: !c.env.upgrade });
    c.set('user', user);
    c.set('userLabel', user?.email);
    return next();
  };
}

/** Where /login sends the browser back to: this request's path and query. */
function loginUrl(url: string): string {
  const { pathname, search } = new URL(url);
  return `/login?returnTo=${encodeURIComponent(pathname + search)}`;
}

/**
 * Anonymous browsers loading a page are sent to sign in and brought back; anything else
 * anonymous (API calls, WebSocket upgrades, form posts) gets 401.
 */
export function requireUser(mode: 'page' | 'api'): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    if (c.get('user')) return next();
    const method = c.req.method;
    if (mode === 'page' && !c.env.upgrade && (method === 'GET' || method === 'HEAD')) {
      return c.redirect(loginUrl(c.req.url), 302);
    }
    return jsonError(c, 401, 'unauthorized', 'sign in first (at /login)');
  };
}

/** The CSRF check (see csrf.ts) for POST, PUT, PATCH and DELETE. */
export function requireCsrf(issuer: string): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const user = c.get('user');
    if (!user) return next();
    const verdict = checkCsrf({
      method: c.req.method,
      origin: c.req.header('origin'),
      referer: c.req.header('referer'),
      expectedOrigin: requestOrigin(c.req.header('host'), issuer),
      headerToken: c.req.header(CSRF_HEADER),
      cookieToken: getCookie(c, CSRF_COOKIE),
      sessionToken: user.csrf,
    });
    if (!verdict.ok) return jsonError(c, 403, 'csrf', verdict.reason);
    return next();
  };
}
