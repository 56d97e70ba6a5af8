import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Db } from '../db/connect.ts';
import type { API_KEY_ROLES, tenants } from '../db/schema.ts';
import type { Lookups } from '../lookups.ts';
import { JitRefused, provisionUser } from '../users/jit.ts';
import { type AuditScope, actorOf, requestOrigin } from './audit.ts';
import { ApiError, forbidden, notFound } from './errors.ts';
import { type GatewayTokenVerifier, looksLikeJwt } from './gateway-token.ts';

/** `gateway`: a regional gateway's API key, for /v1/gateway/* only */
export type Role = (typeof API_KEY_ROLES)[number];

/** how the caller proved who it is; admin-token: a token from the configuration
 * (FLOE_ADMIN_TOKEN as platform-admin, FLOE_GATEWAY_TOKEN as gateway) */
export type Credential = 'admin-token' | 'api-key' | 'identity-token';

export interface Principal {
  via: Credential;
  keyId: string | null; // null for configured tokens and gateway identity tokens
  role: Role;
  tenantId: string | null;
  userId: string | null;
}

export type TenantRow = typeof tenants.$inferSelect;

export type AppEnv = {
  Variables: { principal: Principal; tenant: TenantRow; audit: AuditScope };
};

const TOKEN_PREFIX = 'floe_';

/** A new API key token: 256 random bits; only its SHA-256 is stored. */
export function newToken(): { token: string; prefix: string; hash: string } {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, prefix: token.slice(0, TOKEN_PREFIX.length + 6), hash: hashToken(token) };
}

// A fast hash is right for tokens with 256 bits of entropy: there is nothing to brute-force.
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

// tenant roles, weakest first
const TENANT_ROLES: readonly Role[] = ['member', 'tenant-admin'];

/**
 * What a key acting as a user may do: its own role, but never more than its user's role
 * now (a user demoted after the key was made takes the key down with them).
 */
export function effectiveRole(keyRole: Role, userRole: Role | null): Role {
  if (userRole === null) return keyRole;
  return TENANT_ROLES.indexOf(keyRole) > TENANT_ROLES.indexOf(userRole) ? userRole : keyRole;
}

/** Whether a key of role `keyRole` may act as a user of role `userRole`. */
export const roleWithin = (keyRole: Role, userRole: Role) =>
  effectiveRole(keyRole, userRole) === keyRole;

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, {}, { 'WWW-Authenticate': 'Bearer' });

/**
 * Who is calling: FLOE_ADMIN_TOKEN, FLOE_GATEWAY_TOKEN, a gateway identity token (a JWT, when the gateways'
 * JWKS is configured: its user is found or created just in time), or an API key.
 */
export function authenticate(opts: {
  db: Db;
  lookups: Lookups;
  adminToken: string | undefined;
  /** a configured key of role gateway (FLOE_GATEWAY_TOKEN) */
  gatewayToken?: string;
  gatewayTokens: GatewayTokenVerifier | null;
}): MiddlewareHandler<AppEnv> {
  const { db, lookups, adminToken, gatewayToken, gatewayTokens } = opts;
  const adminHash = adminToken ? Buffer.from(hashToken(adminToken), 'hex') : null;
  const gatewayHash = gatewayToken ? Buffer.from(hashToken(gatewayToken), 'hex') : null;
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match) throw unauthorized('send an API key as "Authorization: Bearer <token>"');
    const token = match[1] as string;
    const hash = hashToken(token);
    if (adminHash && timingSafeEqual(adminHash, Buffer.from(hash, 'hex'))) {
      c.set('principal', {
        via: 'admin-token',
        keyId: null,
        role: 'platform-admin',
        tenantId: null,
        userId: null,
      });
      return next();
    }
    // fenced like any gateway key (fenceGateways): /v1/gateway/* and /v1/me only
    if (gatewayHash && timingSafeEqual(gatewayHash, Buffer.from(hash, 'hex'))) {
      c.set('principal', {
        via: 'admin-token',
        keyId: null,
        role: 'gateway',
        tenantId: null,
        userId: null,
      });
      return next();
    }
    if (looksLikeJwt(token)) {
      if (!gatewayTokens) {
        throw unauthorized('identity tokens are not accepted here (no gateway is configured)');
      }
      const identity = await gatewayTokens(token);
      const tenant = await lookups.tenant(identity.tenantId);
      // by id only: a slug can never stand for a tenant here
      if (!tenant || tenant.id !== identity.tenantId) {
        throw unauthorized('identity token names an unknown tenant');
      }
      let userId: string;
      try {
        // a user created or updated on the way is audited as the user themself
        userId = await provisionUser(db, lookups, tenant.id, identity, (id) => ({
          actor: actorOf({
            via: 'identity-token',
            keyId: null,
            role: identity.role,
            tenantId: tenant.id,
            userId: id,
          }),
          origin: requestOrigin(c, 'identity-token'),
        }));
      } catch (err) {
        if (err instanceof JitRefused) throw unauthorized(err.message);
        throw err;
      }
      c.set('principal', {
        via: 'identity-token',
        keyId: null,
        role: identity.role,
        tenantId: tenant.id,
        userId,
      });
      return next();
    }
    const key = await lookups.apiKey(hash);
    if (!key) throw unauthorized('unknown API key');
    if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) {
      throw unauthorized('API key expired');
    }
    c.set('principal', {
      via: 'api-key',
      keyId: key.id,
      role: effectiveRole(key.role, key.userRole),
      tenantId: key.tenantId,
      userId: key.userId,
    });
    return next();
  };
}

/**
 * Gateway keys reach the gateway's own routes (/v1/gateway/*) and /v1/me only: a stolen
 * gateway key reads identity-provider configuration, never tenants' resources.
 */
export function fenceGateways(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get('principal').role === 'gateway') {
      const path = c.req.path;
      if (!path.startsWith('/v1/gateway/') && path !== '/v1/me') {
        throw forbidden('a gateway key may call /v1/gateway/* only');
      }
    }
    return next();
  };
}

export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!roles.includes(c.get('principal').role)) throw forbidden();
    return next();
  };
}

/**
 * Resolves `{tenant}` (slug or id) and makes sure the caller may see it. Another tenant's
 * resource answers 404, exactly like one that does not exist, so ids cannot be probed.
 */
export function resolveTenant(lookups: Lookups): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const tenant = await lookups.tenant(c.req.param('tenant') ?? '');
    const principal = c.get('principal');
    if (!tenant) throw notFound('tenant');
    if (principal.role !== 'platform-admin' && principal.tenantId !== tenant.id) {
      throw notFound('tenant');
    }
    c.set('tenant', tenant);
    return next();
  };
}
