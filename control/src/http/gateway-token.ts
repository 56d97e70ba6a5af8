// Identity tokens of the regional gateways: a short-lived ES256 JWT per forwarded request,
// naming the signed-in user. Verified with jose against the gateways' JWKS (cached by jose:
// fetched once, again when a token names a key it has not seen, at most every 30 s).
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { ApiError } from './errors.ts';

export const GATEWAY_TOKEN_AUDIENCE = 'floe-control';
export const GATEWAY_TOKEN_MAX_AGE_S = 300;
const CLOCK_TOLERANCE_S = 5;

/** Three base64url segments: a JWS in compact form. API keys (floe_…) never have dots. */
export const looksLikeJwt = (token: string) =>
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);

const Claims = z.object({
  tenant_id: z.uuid(),
  email: z.email().max(320),
  name: z.string().max(200).optional(),
  role: z.enum(['tenant-admin', 'member']),
});

export interface GatewayIdentity {
  tenantId: string;
  email: string;
  name?: string;
  role: 'tenant-admin' | 'member';
}

export type GatewayTokenVerifier = (token: string) => Promise<GatewayIdentity>;

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, {}, { 'WWW-Authenticate': 'Bearer' });

/** Why a token was refused, in words for the caller; null when the fault is not theirs. */
export function refusal(err: unknown, issuer: string): string | null {
  if (err instanceof errors.JWTExpired) {
    return err.claim === 'iat'
      ? `identity token too old (issued more than ${GATEWAY_TOKEN_MAX_AGE_S} s ago)`
      : 'identity token expired';
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'aud':
        return `identity token is not for this audience (expected "${GATEWAY_TOKEN_AUDIENCE}")`;
      case 'iss':
        return `identity token is not from the gateway issuer "${issuer}"`;
      case 'iat':
        return err.reason === 'missing'
          ? 'identity token has no "iat" claim'
          : 'identity token issued in the future';
      default:
        return `identity token refused: ${err.message}`;
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return 'identity token signature does not verify';
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return 'identity token is signed with a key the gateway does not publish';
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'identity token must be signed with ES256';
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return `malformed identity token: ${err.message}`;
  }
  return null; // the JWKS could not be fetched or read: ours to fix, not the caller's
}

export function gatewayTokenVerifier(opts: {
  jwksUrl: string;
  issuer: string;
  onUnavailable?: (err: unknown) => void;
}): GatewayTokenVerifier {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
  return async (token) => {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: GATEWAY_TOKEN_AUDIENCE,
        algorithms: ['ES256'],
        maxTokenAge: GATEWAY_TOKEN_MAX_AGE_S,
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (err) {
      const message = refusal(err, opts.issuer);
      if (message) throw unauthorized(message);
      opts.onUnavailable?.(err);
      throw new ApiError(
        503,
        'unavailable',
        'identity tokens cannot be verified now (the gateway keys are unreachable); retry',
        {},
        { 'Retry-After': '5' },
      );
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) {
      const issue = claims.error.issues[0];
      throw unauthorized(
        `identity token claims are invalid: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown'}`,
      );
    }
    const { tenant_id, email, name, role } = claims.data;
    return { tenantId: tenant_id, email, ...(name !== undefined && { name }), role };
  };
}
