import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { tenants } from '../db/schema.ts';
import type { Lookups } from '../lookups.ts';
import { ApiError, forbidden, notFound } from './errors.ts';

export type Role = 'platform-admin' | 'tenant-admin' | 'member';

export interface Principal {
  keyId: string | null; // null for FLOE_ADMIN_TOKEN
  role: Role;
  tenantId: string | null;
  userId: string | null;
}

export type TenantRow = typeof tenants.$inferSelect;

export type AppEnv = { Variables: { principal: Principal; tenant: TenantRow } };

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

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, {}, { 'WWW-Authenticate': 'Bearer' });

export function authenticate(
  lookups: Lookups,
  adminToken: string | undefined,
): MiddlewareHandler<AppEnv> {
  const adminHash = adminToken ? Buffer.from(hashToken(adminToken), 'hex') : null;
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match) throw unauthorized('send an API key as "Authorization: Bearer <token>"');
    const hash = hashToken(match[1] as string);
    if (adminHash && timingSafeEqual(adminHash, Buffer.from(hash, 'hex'))) {
      c.set('principal', { keyId: null, role: 'platform-admin', tenantId: null, userId: null });
      return next();
    }
    const key = await lookups.apiKey(hash);
    if (!key) throw unauthorized('unknown API key');
    if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) {
      throw unauthorized('API key expired');
    }
    c.set('principal', {
      keyId: key.id,
      role: key.role,
      tenantId: key.tenantId,
      userId: key.userId,
    });
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
