import { and, desc, eq, isNull } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import type { Db } from '../db/connect.ts';
import { apps } from '../db/schema.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { badRequest, ErrorSchema, notFound } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { presentApp } from '../http/present.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { App, AppCreate, AppPatch, ListQuery, page } from '../http/schemas.ts';
import type { Lookups } from '../lookups.ts';
import { lockTenant } from '../sessions/admission.ts';
import { uniqueViolation } from './db-errors.ts';

const tags = ['apps'];
const admin = [requireRole('platform-admin', 'tenant-admin')];

type AppInput = Partial<Omit<import('zod').infer<typeof AppCreate>, 'slug'>>;

/** API fields → columns; only the fields present are returned, for PATCH. */
function columns(input: AppInput) {
  const { resources, persistence, class: appClass, ...rest } = input;
  return {
    ...rest,
    ...(appClass !== undefined && { appClass }),
    ...(resources && {
      cpu: resources.cpu,
      memory: resources.memory,
      gpuSku: resources.gpus?.sku ?? null,
      gpuCount: resources.gpus?.count ?? 0,
    }),
    ...(persistence !== undefined && { persistenceSize: persistence?.size ?? null }),
  };
}

export function appRoutes(db: Db, lookups: Lookups) {
  const app = router();
  const one = params('tenant', 'app');

  async function load(tenantId: string, ref: string) {
    const row = await lookups.app(tenantId, ref);
    if (!row) throw notFound('app');
    return row;
  }

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/apps',
      tags,
      summary: 'Add an app to the tenant’s catalog',
      middleware: admin,
      request: { params: params('tenant'), body: body(AppCreate) },
      responses: { 201: json(App, 'created'), 409: json(ErrorSchema, 'slug taken') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const tenantId = c.get('tenant').id;
      const row = await db.transaction(async (tx) => {
        const [created] = await tx
          .insert(apps)
          .values({
            id: uuidv7(),
            tenantId,
            slug: input.slug,
            name: input.name,
            cpu: input.resources.cpu,
            memory: input.resources.memory,
            ...columns(input),
          })
          .returning()
          .catch(uniqueViolation(`app "${input.slug}" already exists`));
        await audit(c, tx, {
          tenantId,
          action: 'app.create',
          target: { type: 'app', id: created!.id },
          diff: auditDiff(null, presentApp(created!)),
        });
        return created!;
      });
      return c.json(presentApp(row), 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/apps',
      tags,
      summary: 'List the tenant’s apps',
      request: { params: params('tenant'), query: ListQuery },
      responses: { 200: json(page(App, 'AppPage'), 'apps') },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const rows = await db
        .select()
        .from(apps)
        .where(
          and(
            eq(apps.tenantId, c.get('tenant').id),
            isNull(apps.deletedAt),
            afterCursor(apps.id, cursor),
          ),
        )
        .orderBy(desc(apps.id))
        .limit(limit + 1);
      return c.json(pageOf(rows, limit, presentApp), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/apps/{app}',
      tags,
      summary: 'Get an app by slug or id',
      request: { params: one },
      responses: { 200: json(App, 'the app') },
    }),
    async (c) => c.json(presentApp(await load(c.get('tenant').id, c.req.valid('param').app)), 200),
  );

  app.openapi(
    apiRoute({
      method: 'patch',
      path: '/v1/tenants/{tenant}/apps/{app}',
      tags,
      summary: 'Change an app; running sessions keep what they were launched with',
      middleware: admin,
      request: { params: one, body: body(AppPatch) },
      responses: { 200: json(App, 'the app') },
    }),
    async (c) => {
      const current = await load(c.get('tenant').id, c.req.valid('param').app);
      const input = c.req.valid('json');
      const image = input.image === undefined ? current.image : input.image;
      const command = input.command === undefined ? current.command : input.command;
      if (image === null && command === null) {
        throw badRequest('an app needs an image (Kubernetes) or a command (local runner)');
      }
      const row = await db.transaction(async (tx) => {
        const [updated] = await tx
          .update(apps)
          .set({ ...columns(input), updatedAt: new Date() })
          .where(eq(apps.id, current.id))
          .returning();
        await audit(c, tx, {
          tenantId: current.tenantId,
          action: 'app.update',
          target: { type: 'app', id: current.id },
          diff: auditDiff(presentApp(current), presentApp(updated!)),
        });
        return updated!;
      });
      return c.json(presentApp(row), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}/apps/{app}',
      tags,
      summary: 'Remove an app from the catalog; its sessions and usage are kept',
      middleware: admin,
      request: { params: one },
      responses: { 204: { description: 'deleted' } },
    }),
    async (c) => {
      const current = await load(c.get('tenant').id, c.req.valid('param').app);
      await db.transaction(async (tx) => {
        // under admission's lock: a launch of the app is admitted before, or refused after
        await lockTenant(tx, current.tenantId);
        await tx.update(apps).set({ deletedAt: new Date() }).where(eq(apps.id, current.id));
        await audit(c, tx, {
          tenantId: current.tenantId,
          action: 'app.delete',
          target: { type: 'app', id: current.id },
          diff: auditDiff(presentApp(current), null),
        });
      });
      return c.body(null, 204);
    },
  );

  return app;
}
