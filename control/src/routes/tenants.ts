import { and, desc, eq, isNull } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import type { Db } from '../db/connect.ts';
import { sessionIsActive, sessions, tenants } from '../db/schema.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { conflict, ErrorSchema } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { presentTenant } from '../http/present.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { ListQuery, page, Tenant, TenantCreate, TenantPatch } from '../http/schemas.ts';
import { lockTenant } from '../sessions/admission.ts';
import { uniqueViolation } from './db-errors.ts';
import { removeIdentityProvider } from './identity-provider.ts';

const tags = ['tenants'];

export function tenantRoutes(db: Db) {
  const app = router();

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants',
      tags,
      summary: 'Create a tenant (platform-admin)',
      middleware: [requireRole('platform-admin')],
      request: { body: body(TenantCreate) },
      responses: { 201: json(Tenant, 'created'), 409: json(ErrorSchema, 'slug taken') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const row = await db.transaction(async (tx) => {
        const [created] = await tx
          .insert(tenants)
          .values({
            id: uuidv7(),
            slug: input.slug,
            name: input.name,
            ...input.quotas,
            allowedRegions: input.allowedRegions,
          })
          .returning()
          .catch(uniqueViolation(`tenant "${input.slug}" already exists`));
        await audit(c, tx, {
          tenantId: created!.id,
          action: 'tenant.create',
          target: { type: 'tenant', id: created!.id },
          diff: auditDiff(null, presentTenant(created!)),
        });
        return created!;
      });
      return c.json(presentTenant(row), 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants',
      tags,
      summary: 'List tenants (yours only, unless platform-admin)',
      request: { query: ListQuery },
      responses: { 200: json(page(Tenant, 'TenantPage'), 'tenants') },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const principal = c.get('principal');
      const rows = await db
        .select()
        .from(tenants)
        .where(
          and(
            isNull(tenants.deletedAt),
            afterCursor(tenants.id, cursor),
            principal.role === 'platform-admin'
              ? undefined
              : eq(tenants.id, principal.tenantId ?? ''),
          ),
        )
        .orderBy(desc(tenants.id))
        .limit(limit + 1);
      return c.json(pageOf(rows, limit, presentTenant), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}',
      tags,
      summary: 'Get a tenant by slug or id',
      request: { params: params('tenant') },
      responses: { 200: json(Tenant, 'the tenant') },
    }),
    (c) => c.json(presentTenant(c.get('tenant')), 200),
  );

  app.openapi(
    apiRoute({
      method: 'patch',
      path: '/v1/tenants/{tenant}',
      tags,
      summary: 'Change a tenant’s name, quotas or regions (platform-admin)',
      middleware: [requireRole('platform-admin')],
      request: { params: params('tenant'), body: body(TenantPatch) },
      responses: { 200: json(Tenant, 'the tenant') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const before = c.get('tenant');
      const row = await db.transaction(async (tx) => {
        const [updated] = await tx
          .update(tenants)
          .set({
            name: input.name,
            ...input.quotas,
            allowedRegions: input.allowedRegions,
            updatedAt: new Date(),
          })
          .where(eq(tenants.id, before.id))
          .returning();
        await audit(c, tx, {
          tenantId: before.id,
          action: 'tenant.update',
          target: { type: 'tenant', id: before.id },
          diff: auditDiff(presentTenant(before), presentTenant(updated!)),
        });
        return updated!;
      });
      return c.json(presentTenant(row), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}',
      tags,
      summary: 'Delete a tenant with no active sessions (platform-admin); its usage is kept',
      middleware: [requireRole('platform-admin')],
      request: { params: params('tenant') },
      responses: {
        204: { description: 'deleted' },
        409: json(ErrorSchema, 'sessions still active'),
      },
    }),
    async (c) => {
      const tenant = c.get('tenant');
      await db.transaction(async (tx) => {
        // under admission's lock: no launch slips in between the check and the delete
        await lockTenant(tx, tenant.id);
        const [active] = await tx
          .select({ id: sessions.id })
          .from(sessions)
          .where(and(eq(sessions.tenantId, tenant.id), sessionIsActive()))
          .limit(1);
        if (active) throw conflict('the tenant still has active sessions; stop them first');
        await tx
          .update(tenants)
          .set({ deletedAt: new Date(), updatedAt: new Date() })
          .where(eq(tenants.id, tenant.id));
        // its sign-in goes with it, and its host names are free for others
        await removeIdentityProvider(tx, tenant.id);
        await audit(c, tx, {
          tenantId: tenant.id,
          action: 'tenant.delete',
          target: { type: 'tenant', id: tenant.id },
          diff: auditDiff(presentTenant(tenant), null),
        });
      });
      return c.body(null, 204);
    },
  );

  return app;
}
