// CSRF protection for state-changing requests (POST, PUT, PATCH, DELETE): two independent
// checks, both required.
// 1. Origin: the request must come from a page of this gateway's own origin (Origin, or
//    Referer when a browser sends no Origin); none at all is refused too.
// 2. Double submit: an `x-csrf-token` header equal to the `floe_csrf` cookie, which is
//    readable by the gateway's own pages only, and equal to the token the signed session
//    cookie names. The last part binds the token to the session, so a cookie planted by a
//    sibling subdomain (cookies are not isolated by host) does not help an attacker.
import { timingSafeEqual } from 'node:crypto';

export const CSRF_COOKIE = 'floe_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const isStateChanging = (method: string) => STATE_CHANGING.has(method.toUpperCase());

function originOf(value: string | undefined): string | null {
  if (!value || value === 'null') return null;
  try {
    return new URL(value).origin;
  } catch {
    return null;
  }
}

/** Whether Origin (or, without it, Referer) names `expected`. */
export function fromOrigin(
  headers: { origin?: string; referer?: string },
  expected: string,
): boolean {
  const origin =
    headers.origin !== undefined ? originOf(headers.origin) : originOf(headers.referer);
  return origin === expected;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export type CsrfVerdict = { ok: true } | { ok: false; reason: string };

export function checkCsrf(req: {
  method: string;
  origin?: string;
  referer?: string;
  expectedOrigin: string;
  headerToken?: string;
  cookieToken?: string;
  sessionToken: string;
}): CsrfVerdict {
  if (!isStateChanging(req.method)) return { ok: true };
  if (!fromOrigin(req, req.expectedOrigin)) {
    return { ok: false, reason: 'cross-origin request refused (Origin is not this site)' };
  }
  const { headerToken, cookieToken, sessionToken } = req;
  if (!headerToken || !cookieToken) {
    return { ok: false, reason: `send the ${CSRF_COOKIE} cookie's value in ${CSRF_HEADER}` };
  }
  if (!same(headerToken, cookieToken) || !same(cookieToken, sessionToken)) {
    return { ok: false, reason: `${CSRF_HEADER} does not match this session` };
  }
  return { ok: true };
}
