// Security headers for every response, the gateway's own and the ones it proxies from
// sessions (which set them on the Node response, outside Hono's middleware).
import type { MiddlewareHandler } from 'hono';
import { alreadySent, type GatewayEnv } from './env.ts';

/**
 * The headers, by name. Referrer-Policy is same-origin (not no-referrer): with no-referrer,
 * browsers send `Origin: null` on same-origin POSTs, which the CSRF check must refuse.
 * connect-src 'self' also allows same-origin WebSockets (the stream's signalling).
 */
export function securityHeaders(https: boolean, formAction = "'self'"): Record<string, string> {
  return {
    'content-security-policy':
      "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
      `object-src 'none'; base-uri 'self'; form-action ${formAction}; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    ...(https && { 'strict-transport-security': 'max-age=31536000; includeSubDomains' }),
  };
}

/**
 * Chrome applies form-action to where a form's answer redirects too: a form whose answer
 * goes on to a tenant's identity provider (the organisation form of /login) needs this.
 */
export const FORM_ACTION_TO_IDENTITY_PROVIDERS =
  "'self' https: http://localhost:* http://127.0.0.1:*";

export function securityHeadersMiddleware(https: boolean): MiddlewareHandler<GatewayEnv> {
  const headers = Object.entries(securityHeaders(https));
  return async (c, next) => {
    await next();
    // a proxied response was written by the proxy (which sets them itself)
    if (alreadySent(c.res)) return;
    const formAction = c.get('formAction');
    const chosen = formAction ? Object.entries(securityHeaders(https, formAction)) : headers;
    for (const [name, value] of chosen) c.res.headers.set(name, value);
  };
}
