import { and, desc, eq, gte, lt } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { quotaEvents } from '../db/schema.ts';
import { requireRole } from '../http/auth.ts';
import { badRequest } from '../http/errors.ts';
import { apiRoute, json, params, router } from '../http/route.ts';
import { QuotaEventList, UsageQuery } from '../http/schemas.ts';
import { startOfMonthUtc } from '../sessions/usage.ts';

// at most two events per quota and month: a few years of them fit in one answer
const MAX_EVENTS = 500;

export function quotaEventRoutes(db: Db) {
  const app = router();
  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/quota-events',
      tags: ['usage'],
      summary: 'The tenant’s quota events (GPU-hours at 90 % and at 100 %), newest first',
      description: `Recorded in [from, to); at most ${MAX_EVENTS}.`,
      middleware: [requireRole('platform-admin', 'tenant-admin')],
      request: { params: params('tenant'), query: UsageQuery },
      responses: { 200: json(QuotaEventList, 'quota events') },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const now = new Date();
      const from = q.from ? new Date(q.from) : startOfMonthUtc(now);
      const to = q.to ? new Date(q.to) : now;
      if (from >= to) throw badRequest('"from" must be before "to"');
      const rows = await db
        .select()
        .from(quotaEvents)
        .where(
          and(
            eq(quotaEvents.tenantId, c.get('tenant').id),
            gte(quotaEvents.at, from),
            lt(quotaEvents.at, to),
          ),
        )
        .orderBy(desc(quotaEvents.id))
        .limit(MAX_EVENTS);
      const items = rows.map((r) => ({
        type: r.type,
        quota: r.quota,
        periodStart: r.periodStart.toISOString(),
        data: r.data,
        at: r.at.toISOString(),
      }));
      return c.json({ items }, 200);
    },
  );
  return app;
}
