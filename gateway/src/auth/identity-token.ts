// The user's identity as the control plane takes it: a JWT the gateway signs per forwarded
// request, valid for 60 s, verified there against /.well-known/jwks.json. The browser never
// sees it, and the browser's cookie never reaches the control plane.
import { SignJWT } from 'jose';
import type { GatewayKeys } from '../keys.ts';
import type { Role } from './session-token.ts';

export const IDENTITY_AUDIENCE = 'floe-control';
export const IDENTITY_TTL_SECONDS = 60;

export interface Identity {
  tenantId: string;
  email: string;
  name: string;
  role: Role;
}

export function mintIdentity(
  keys: GatewayKeys,
  issuer: string,
  identity: Identity,
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({
    tenant_id: identity.tenantId,
    email: identity.email,
    // the control plane takes names of up to 200 characters
    ...(identity.name && { name: identity.name.slice(0, 200) }),
    role: identity.role,
  })
    .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(IDENTITY_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + IDENTITY_TTL_SECONDS)
    .sign(keys.signing.privateKey);
}
