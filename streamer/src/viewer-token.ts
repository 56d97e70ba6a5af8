/**
 * Who may open this session's signalling: only a browser the gateway let through, proven by a
 * short-lived viewer token the gateway signs (ES256, its JWKS) for this very session (audience
 * `floe-session:<id>`) and adds to the proxied request itself — the browser never holds it.
 * Reaching the pod's network (another pod, a compromised app) is not enough to watch or
 * control the session.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';

export const VIEWER_TOKEN_TYPE = 'floe-viewer+jwt';
export const VIEWER_ROLES = ['owner', 'control', 'viewer'] as const;
export type ViewerRole = (typeof VIEWER_ROLES)[number];

export const viewerAudience = (sessionId: string) => `floe-session:${sessionId}`;

export interface ViewerClaims {
  /** the user's id at the control plane */
  sub: string;
  role: ViewerRole;
  /** how the others watching see this viewer (the gateway signs the user's email) */
  name?: string;
}

export type ViewerCheck = { ok: true; viewer: ViewerClaims } | { ok: false; reason: string };

export interface ViewerVerifier {
  check(headers: IncomingHttpHeaders): Promise<ViewerCheck>;
}

/**
 * The gateway's public keys from a file (a Kubernetes pod's: a ConfigMap the operator keeps
 * current, mounted read-only), read again whenever it changed, so a key the gateway rotates
 * in reaches a running session without a network path from the pod to the gateway.
 */
export function fileKeys(path: string): JWTVerifyGetKey {
  let loaded: { stamp: string; keys: JWTVerifyGetKey } | null = null;
  return async (header, token) => {
    const info = await stat(path);
    // the kubelet swaps a ConfigMap volume's files by a symlink: a new inode, a new mtime
    const stamp = `${info.ino}:${info.mtimeMs}:${info.size}`;
    if (loaded?.stamp !== stamp) {
      const jwks = JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet;
      loaded = { stamp, keys: createLocalJWKSet(jwks) };
    }
    return loaded.keys(header, token);
  };
}

/** Where the gateway's public keys come from: its JWKS URL, or a file that holds them. */
export type ViewerKeySource = { jwksUrl: string } | { jwksFile: string };

/** Verifies the gateway's viewer tokens against its JWKS (cached by jose, or read from a file). */
export function viewerVerifier(
  opts: { issuer: string; sessionId: string } & ViewerKeySource,
): ViewerVerifier {
  const jwks =
    'jwksUrl' in opts
      ? createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 5_000 })
      : fileKeys(opts.jwksFile);
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
        const name =
          typeof payload.name === 'string' && payload.name.length <= 320 ? payload.name : undefined;
        return { ok: true, viewer: { sub: payload.sub, role, ...(name && { name }) } };
      } catch (err) {
        if (err instanceof errors.JOSEError) return { ok: false, reason: err.code };
        return { ok: false, reason: 'the viewer token cannot be checked' };
      }
    },
  };
}
