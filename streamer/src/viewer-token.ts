/**
 * Who may open this session's signalling: only a browser the gateway let through, proven by a
 * short-lived viewer token the gateway signs (ES256, its JWKS) for this very session (audience
 * `floe-session:<id>`) and adds to the proxied request itself — the browser never holds it.
 * Reaching the pod's network (another pod, a compromised app) is not enough to watch or
 * control the session.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

export const VIEWER_TOKEN_TYPE = 'floe-viewer+jwt';
export const VIEWER_ROLES = ['owner', 'viewer'] as const;
export type ViewerRole = (typeof VIEWER_ROLES)[number];

export const viewerAudience = (sessionId: string) => `floe-session:${sessionId}`;

export interface ViewerClaims {
  /** the user's id at the control plane */
  sub: string;
  role: ViewerRole;
}

export type ViewerCheck = { ok: true; viewer: ViewerClaims } | { ok: false; reason: string };

export interface ViewerVerifier {
  check(headers: IncomingHttpHeaders): Promise<ViewerCheck>;
}

/** Verifies the gateway's viewer tokens against its JWKS (fetched and cached by jose). */
export function viewerVerifier(opts: {
  issuer: string;
  jwksUrl: string;
  sessionId: string;
}): ViewerVerifier {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 5_000 });
  return {
    async check(headers) {
      const match = headers.authorization?.match(/^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/);
      if (!match) return { ok: false, reason: 'no viewer token' };
      try {
        const { payload } = await jwtVerify(match[1] as string, jwks, {
          issuer: opts.issuer,
          audience: viewerAudience(opts.sessionId),
          typ: VIEWER_TOKEN_TYPE,
          algorithms: ['ES256'],
          maxTokenAge: '5m',
          requiredClaims: ['sub', 'exp', 'iat'],
        });
        const role = VIEWER_ROLES.find((r) => r === payload.role);
        if (!role || typeof payload.sub !== 'string') {
          return { ok: false, reason: 'a viewer token without a role' };
        }
        return { ok: true, viewer: { sub: payload.sub, role } };
      } catch (err) {
        if (err instanceof errors.JOSEError) return { ok: false, reason: err.code };
        return { ok: false, reason: 'the viewer token cannot be checked' };
      }
    },
  };
}
