import { and, desc, eq, isNull } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import type { Db } from '../db/connect.ts';
import { sessionIsActive, sessions, users } from '../db/schema.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { conflict, ErrorSchema, notFound } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { presentUser } from '../http/present.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { ListQuery, page, User, UserCreate, UserPatch } from '../http/schemas.ts';
import type { Lookups } from '../lookups.ts';
import { lockTenant } from '../sessions/admission.ts';
import { uniqueViolation } from './db-errors.ts';

const tags = ['users'];
const admin = [requireRole('platform-admin', 'tenant-admin')];

export function userRoutes(db: Db, lookups: Lookups) {
  const app = router();
  const one = params('tenant', 'user');

  async function load(tenantId: string, ref: string) {
    const row = await lookups.user(tenantId, ref);
    if (!row) throw notFound('user');
    return row;
  }

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/users',
      tags,
      summary: 'Add a user to the tenant',
      middleware: admin,
      request: { params: params('tenant'), body: body(UserCreate) },
      responses: { 201: json(User, 'created'), 409: json(ErrorSchema, 'email taken') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const tenantId = c.get('tenant').id;
      const row = await db.transaction(async (tx) => {
        const [created] = await tx
          .insert(users)
          .values({
            id: uuidv7(),
            tenantId,
            email: input.email,
            role: input.role,
            ...input.limits,
          })
          .returning()
          .catch(uniqueViolation(`user ${input.email} already exists`));
        await audit(c, tx, {
          tenantId,
          action: 'user.create',
          target: { type: 'user', id: created!.id },
          diff: auditDiff(null, presentUser(created!)),
        });
        return created!;
      });
      return c.json(presentUser(row), 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/users',
      tags,
      summary: 'List the tenant’s users',
      middleware: admin,
      request: { params: params('tenant'), query: ListQuery },
      responses: { 200: json(page(User, 'UserPage'), 'users') },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const rows = await db
        .select()
        .from(users)
        .where(
          and(
            eq(users.tenantId, c.get('tenant').id),
            isNull(users.deletedAt),
            afterCursor(users.id, cursor),
          ),
        )
        .orderBy(desc(users.id))
        .limit(limit + 1);
      return c.json(pageOf(rows, limit, presentUser), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/users/{user}',
      tags,
      summary: 'Get a user by id or email',
      middleware: admin,
      request: { params: one },
      responses: { 200: json(User, 'the user') },
    }),
    async (c) =>
      c.json(presentUser(await load(c.get('tenant').id, c.req.valid('param').user)), 200),
  );

  app.openapi(
    apiRoute({
      method: 'patch',
      path: '/v1/tenants/{tenant}/users/{user}',
      tags,
      summary: 'Change a user’s role or limits',
      middleware: admin,
      request: { params: one, body: body(UserPatch) },
      responses: { 200: json(User, 'the user') },
    }),
    async (c) => {
      const user = await load(c.get('tenant').id, c.req.valid('param').user);
      const input = c.req.valid('json');
      const row = await db.transaction(async (tx) => {
        const [updated] = await tx
          .update(users)
          .set({ role: input.role, ...input.limits, updatedAt: new Date() })
          .where(eq(users.id, user.id))
          .returning();
        await audit(c, tx, {
          tenantId: user.tenantId,
          action: 'user.update',
          target: { type: 'user', id: user.id },
          diff: auditDiff(presentUser(user), presentUser(updated!)),
        });
        return updated!;
      });
      return c.json(presentUser(row), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}/users/{user}',
      tags,
      summary: 'Remove a user with no active sessions; their usage is kept',
      middleware: admin,
      request: { params: one },
      responses: {
        204: { description: 'deleted' },
        409: json(ErrorSchema, 'sessions still active'),
      },
    }),
    async (c) => {
      const user = await load(c.get('tenant').id, c.req.valid('param').user);
      await db.transaction(async (tx) => {
        // under admission's lock: no launch for the user slips in between check and delete
        await lockTenant(tx, user.tenantId);
        const [active] = await tx
          .select({ id: sessions.id })
          .from(sessions)
          .where(and(eq(sessions.userId, user.id), sessionIsActive()))
          .limit(1);
        if (active) throw conflict('the user still has active sessions; stop them first');
        await tx.update(users).set({ deletedAt: new Date() }).where(eq(users.id, user.id));
        await audit(c, tx, {
          tenantId: user.tenantId,
          action: 'user.delete',
          target: { type: 'user', id: user.id },
          diff: auditDiff(presentUser(user), null),
        });
      });
      return c.body(null, 204);
    },
  );

  return app;
}
