import { inArray } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { apps, users } from '../db/schema.ts';
import { badRequest } from '../http/errors.ts';
import { apiRoute, json, params, router } from '../http/route.ts';
import { Usage, UsageQuery } from '../http/schemas.ts';
import { startOfMonthUtc, usageByUserAndApp } from '../sessions/usage.ts';

export function usageRoutes(db: Db) {
  const app = router();
  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/usage',
      tags: ['usage'],
      summary: 'Session-seconds and GPU-seconds per user and app in a period',
      description: 'Members see their own usage only. Running sessions count up to now.',
      request: { params: params('tenant'), query: UsageQuery },
      responses: { 200: json(Usage, 'usage') },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const principal = c.get('principal');
      const tenant = c.get('tenant');
      const now = new Date();
      const from = q.from ? new Date(q.from) : startOfMonthUtc(now);
      const to = q.to ? new Date(q.to) : now;
      if (from >= to) throw badRequest('"from" must be before "to"');
      const rows = await usageByUserAndApp(db, {
        tenantId: tenant.id,
        from,
        to,
        userId: principal.role === 'member' ? (principal.userId ?? '') : undefined,
      });
      const userIds = [...new Set(rows.map((r) => r.userId))];
      const appIds = [...new Set(rows.map((r) => r.appId))];
      const [emails, appRows] = await Promise.all([
        userIds.length
          ? db
              .select({ id: users.id, email: users.email })
              .from(users)
              .where(inArray(users.id, userIds))
          : [],
        appIds.length
          ? db
              .select({ id: apps.id, slug: apps.slug, name: apps.name })
              .from(apps)
              .where(inArray(apps.id, appIds))
          : [],
      ]);
      const email = new Map(emails.map((u) => [u.id, u.email]));
      const app = new Map(appRows.map((a) => [a.id, a]));
      const items = rows.map((r) => ({
        ...r,
        email: email.get(r.userId) ?? '',
        app: app.get(r.appId)?.slug ?? '',
        appName: app.get(r.appId)?.name ?? '',
      }));
      return c.json(
        {
          from: from.toISOString(),
          to: to.toISOString(),
          items,
          totals: {
            sessionSeconds: items.reduce((n, r) => n + r.sessionSeconds, 0),
            gpuSeconds: items.reduce((n, r) => n + r.gpuSeconds, 0),
          },
        },
        200,
      );
    },
  );
  return app;
}
