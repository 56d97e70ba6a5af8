// The gateway's session cookie: a JWT signed with the gateway's key (ES256) that carries who
// the user is, so that no replica keeps session state. The IdP's refresh token rides along
// sealed (encrypted, see sealed.ts): the cookie is HttpOnly, but a stolen cookie must still
// not hand out a credential that works at the identity provider.
import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import type { GatewayKeys } from '../keys.ts';

export const SESSION_AUDIENCE = 'floe-gateway';
export const SESSION_TYP = 'floe-session+jwt';

export type Role = 'tenant-admin' | 'member';

const Claims = z.object({
  sub: z.string().min(1),
  tenant_id: z.string().min(1),
  tenant: z.string().min(1),
  email: z.string().min(1),
  name: z.string(),
  role: z.enum(['tenant-admin', 'member']),
  /** the user's id at the control plane, once known */
  uid: z.string().min(1).optional(),
  /** the IdP's refresh token, sealed */
  rt: z.string().min(1).optional(),
  /** the double-submit CSRF token this session expects */
  csrf: z.string().min(16),
  /** when the user signed in at this gateway (seconds); the absolute limit counts from it */
  signed_in_at: z.number().int(),
  iat: z.number().int(),
  exp: z.number().int(),
});

export type SessionClaims = z.infer<typeof Claims>;
export type SessionData = Omit<SessionClaims, 'iat' | 'exp'>;

/**
 * When a cookie issued now should expire: a full TTL, but never past the absolute limit
 * counted from sign-in, after which the user signs in again however active they were.
 */
export function sessionExpiry(
  signedInAt: number,
  now: number,
  ttlSeconds: number,
  maxSeconds: number,
): number {
  return Math.min(now + ttlSeconds, signedInAt + maxSeconds);
}

/**
 * Whether to issue a fresh cookie now: past half of its life (sliding expiry; renewing on
 * every request would make every response set a cookie) and not already at the absolute
 * limit, which renewing cannot extend.
 */
export function renewalDue(
  claims: Pick<SessionClaims, 'iat' | 'exp' | 'signed_in_at'>,
  now: number,
  ttlSeconds: number,
  maxSeconds: number,
): boolean {
  const halfLife = (claims.exp - claims.iat) / 2;
  if (now < claims.iat + halfLife) return false;
  return sessionExpiry(claims.signed_in_at, now, ttlSeconds, maxSeconds) > claims.exp;
}

export async function signSession(
  keys: GatewayKeys,
  issuer: string,
  data: SessionData,
  opts: { now: number; ttlSeconds: number; maxSeconds: number },
): Promise<{ token: string; claims: SessionClaims }> {
  const exp = sessionExpiry(data.signed_in_at, opts.now, opts.ttlSeconds, opts.maxSeconds);
  const claims: SessionClaims = { ...data, iat: opts.now, exp };
  const token = await new SignJWT(claims as unknown as JWTPayload)
    .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: SESSION_TYP })
    .setIssuer(issuer)
    .setAudience(SESSION_AUDIENCE)
    .sign(keys.signing.privateKey);
  return { token, claims };
}

/**
 * The cookie's claims, or null for anything the gateway did not sign as a session cookie
 * for itself and that has not expired: another key, another audience or type, tampering.
 */
export async function verifySession(
  keys: GatewayKeys,
  issuer: string,
  token: string,
  now = Math.floor(Date.now() / 1000),
): Promise<SessionClaims | null> {
  try {
    const { payload } = await jwtVerify(token, keys.verify, {
      issuer,
      audience: SESSION_AUDIENCE,
      typ: SESSION_TYP,
      algorithms: ['ES256'],
      currentDate: new Date(now * 1000),
    });
    const claims = Claims.safeParse(payload);
    return claims.success ? claims.data : null;
  } catch (err) {
    if (err instanceof errors.JOSEError || err instanceof TypeError) return null;
    throw err;
  }
}
