// What opens a session's signalling at its streamer: a JWT the gateway signs for the
// session's owner (or a user it is shared with, in that grant's role) as it proxies the WebSocket, valid for 60 s, audience the session itself
// (streamer/src/viewer-token.ts verifies it against /.well-known/jwks.json). It travels on
// the proxied request only; the browser never holds it, and a token for one session opens
// no other.
import { SignJWT } from 'jose';
import type { GatewayKeys } from '../keys.ts';

export const VIEWER_TOKEN_TTL_SECONDS = 60;

export interface Viewer {
  sessionId: string;
  /** the user's id at the control plane */
  userId: string;
  /** the session's owner; `control` and `viewer` are users it was shared with (issue 19) */
  role: 'owner' | 'control' | 'viewer';
  /** how the others watching see this viewer (an email); absent: the streamer shows the id */
  name?: string;
}

export function mintViewerToken(
  keys: GatewayKeys,
  issuer: string,
  viewer: Viewer,
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({ role: viewer.role, ...(viewer.name && { name: viewer.name }) })
    .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: 'floe-viewer+jwt' })
    .setIssuer(issuer)
    .setAudience(`floe-session:${viewer.sessionId}`)
    .setSubject(viewer.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + VIEWER_TOKEN_TTL_SECONDS)
    .sign(keys.signing.privateKey);
}
