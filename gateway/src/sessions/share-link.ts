// A session's share link (issue 19): `/sessions/{id}/?share=<token>`, the token a JWT the
// gateway signs with its keys (the same ES256 keys as its cookies, so every replica and a
// rotation verify it) for one link grant of one session (audience `floe-share:<id>`,
// subject the grant's id), expiring with the grant. The signature proves the gateway made
// it; the grant, which the control plane hands over only while it is live, proves it was
// not revoked: both are checked on every request. Whoever opens it must still be signed in
// to the session's tenant. Once opened, the token rides in a cookie scoped to the session's
// path, so the page's own requests (its bundle, turn, signalling) carry it.
import { errors, jwtVerify, SignJWT } from 'jose';
import type { GatewayKeys } from '../keys.ts';

export const SHARE_QUERY = 'share';
export const SHARE_COOKIE = 'floe_share';
const TYPE = 'floe-share+jwt';
const audience = (sessionId: string) => `floe-share:${sessionId}`;

export function mintShareToken(
  keys: GatewayKeys,
  issuer: string,
  link: { sessionId: string; grantId: string; expiresAt: Date },
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: TYPE })
    .setIssuer(issuer)
    .setAudience(audience(link.sessionId))
    .setSubject(link.grantId)
    .setIssuedAt(now)
    .setExpirationTime(Math.floor(link.expiresAt.getTime() / 1000))
    .sign(keys.signing.privateKey);
}

/** The grant id a share token names, when the gateway signed it for this session and it has not expired. */
export async function shareTokenGrant(
  keys: GatewayKeys,
  issuer: string,
  sessionId: string,
  token: string | undefined,
): Promise<string | null> {
  if (!token || token.length > 2048) return null;
  try {
    const { payload } = await jwtVerify(token, keys.verify, {
      issuer,
      audience: audience(sessionId),
      typ: TYPE,
      algorithms: ['ES256'],
      requiredClaims: ['sub', 'exp'],
    });
    return typeof payload.sub === 'string' ? payload.sub : null;
  } catch (err) {
    if (err instanceof errors.JOSEError || err instanceof TypeError) return null;
    throw err;
  }
}
