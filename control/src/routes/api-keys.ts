import { and, desc, eq, isNull, type SQL } from 'drizzle-orm';
import type { Context } from 'hono';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import type { Db } from '../db/connect.ts';
import { apiKeys } from '../db/schema.ts';
import { audit } from '../http/audit.ts';
import { type AppEnv, newToken, requireRole, roleWithin } from '../http/auth.ts';
import { badRequest, notFound } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { presentApiKey } from '../http/present.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import {
  ApiKey,
  ApiKeyCreate,
  ApiKeyCreated,
  ListQuery,
  PlatformApiKeyCreate,
  page,
} from '../http/schemas.ts';
import { isUuid, type Lookups } from '../lookups.ts';

const tags = ['api-keys'];
const admin = [requireRole('platform-admin', 'tenant-admin')];
const platformAdmin = [requireRole('platform-admin')];

export function apiKeyRoutes(db: Db, lookups: Lookups) {
  const app = router();

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/api-keys',
      tags,
      summary: 'Create an API key; its token is in this answer only',
      middleware: admin,
      request: { params: params('tenant'), body: body(ApiKeyCreate) },
      responses: { 201: json(ApiKeyCreated, 'created; keep the token, it is not shown again') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const tenant = c.get('tenant');
      const user = input.user ? await lookups.user(tenant.id, input.user) : undefined;
      if (input.user && !user) throw notFound('user');
      if (input.role === 'member' && !user) {
        throw badRequest('a member key must name the user it acts as ("user")');
      }
      if (user && !roleWithin(input.role, user.role)) {
        throw badRequest(
          `role: a key cannot be ${input.role} when its user ${user.email} is ${user.role}`,
        );
      }
      const key = await insertKey(db, c, {
        ...input,
        tenantId: tenant.id,
        userId: user?.id ?? null,
      });
      return c.json(key, 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/api-keys',
      tags,
      summary: 'List the tenant’s API keys (never their tokens)',
      middleware: admin,
      request: { params: params('tenant'), query: ListQuery },
      responses: { 200: json(page(ApiKey, 'ApiKeyPage'), 'keys') },
    }),
    async (c) => {
      return c.json(
        await listKeys(db, eq(apiKeys.tenantId, c.get('tenant').id), c.req.valid('query')),
        200,
      );
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}/api-keys/{key}',
      tags,
      summary: 'Revoke an API key',
      middleware: admin,
      request: { params: params('tenant', 'key') },
      responses: { 204: { description: 'revoked' } },
    }),
    async (c) => {
      const tenantId = c.get('tenant').id;
      await revokeKey(db, c, c.req.valid('param').key, eq(apiKeys.tenantId, tenantId));
      return c.body(null, 204);
    },
  );

  // Keys of no tenant: gateways' keys (role gateway) and further platform-admin keys.

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/api-keys',
      tags,
      summary: 'Create a key of no tenant, e.g. a gateway’s (platform-admin); token shown once',
      middleware: platformAdmin,
      request: { body: body(PlatformApiKeyCreate) },
      responses: { 201: json(ApiKeyCreated, 'created; keep the token, it is not shown again') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const key = await insertKey(db, c, { ...input, tenantId: null, userId: null });
      return c.json(key, 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/api-keys',
      tags,
      summary: 'List the keys of no tenant (platform-admin; never their tokens)',
      middleware: platformAdmin,
      request: { query: ListQuery },
      responses: { 200: json(page(ApiKey, 'PlatformApiKeyPage'), 'keys') },
    }),
    async (c) => {
      return c.json(await listKeys(db, isNull(apiKeys.tenantId), c.req.valid('query')), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/api-keys/{key}',
      tags,
      summary: 'Revoke a key of no tenant (platform-admin)',
      middleware: platformAdmin,
      request: { params: params('key') },
      responses: { 204: { description: 'revoked' } },
    }),
    async (c) => {
      await revokeKey(db, c, c.req.valid('param').key, isNull(apiKeys.tenantId));
      return c.body(null, 204);
    },
  );

  return app;
}

/** A new key row; its token is in the answer only, once (only its hash is stored). */
async function insertKey(
  db: Db,
  c: Context<AppEnv>,
  key: {
    tenantId: string | null;
    userId: string | null;
    name: string;
    role: (typeof apiKeys.$inferInsert)['role'];
    expiresAt?: string | null;
  },
) {
  if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) {
    throw badRequest('expiresAt must be in the future');
  }
  const { token, prefix, hash } = newToken();
  const row = await db.transaction(async (tx) => {
    const [created] = await tx
      .insert(apiKeys)
      .values({
        id: uuidv7(),
        tenantId: key.tenantId,
        userId: key.userId,
        name: key.name,
        role: key.role,
        prefix,
        secretHash: hash,
        expiresAt: key.expiresAt ? new Date(key.expiresAt) : null,
      })
      .returning();
    await audit(c, tx, {
      tenantId: key.tenantId,
      action: 'api-key.create',
      target: { type: 'api-key', id: created!.id },
      diff: auditDiff(null, presentApiKey(created!)),
    });
    return created!;
  });
  return { ...presentApiKey(row), token };
}

/** A page of the keys `owner` selects (a tenant's, or those of no tenant), newest first. */
async function listKeys(db: Db, owner: SQL, { limit, cursor }: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(owner, afterCursor(apiKeys.id, cursor)))
    .orderBy(desc(apiKeys.id))
    .limit(limit + 1);
  return pageOf(rows, limit, presentApiKey);
}

/** Revokes a key `owner` selects; another owner's key is not found, like a missing one. */
async function revokeKey(db: Db, c: Context<AppEnv>, key: string, owner: SQL) {
  if (!isUuid(key)) throw notFound('API key');
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, key), owner, isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id, tenantId: apiKeys.tenantId, revokedAt: apiKeys.revokedAt });
    if (!row) throw notFound('API key');
    await audit(c, tx, {
      tenantId: row.tenantId,
      action: 'api-key.revoke',
      target: { type: 'api-key', id: row.id },
      diff: auditDiff({ revokedAt: null }, { revokedAt: row.revokedAt }),
    });
  });
}
