import { z } from '@hono/zod-openapi';
import { and, asc, desc, eq, isNull, or, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import { onPeriodClosed } from '../billing/hooks.ts';
import { cardFor, type RateCardLike } from '../billing/pricing.ts';
import {
  closePeriod,
  PeriodRefused,
  type PeriodRow,
  periodTotals,
  refreshUsage,
} from '../billing/usage-records.ts';
import { type Db, queryRows, type Tx } from '../db/connect.ts';
import { billingPeriods, billingSettings, rateCards, tenants } from '../db/schema.ts';
import { audit, unchanged } from '../http/audit.ts';
import { type AppEnv, requireRole, type TenantRow } from '../http/auth.ts';
import {
  AtQuery,
  BillingSettings,
  EffectiveRateCard,
  Period,
  PeriodLabel,
  PeriodList,
  PeriodParams,
  PeriodSummary,
  PlatformClose,
  PlatformPeriod,
  RateCard,
  RateCardCreate,
  RateCardList,
} from '../http/billing-schemas.ts';
import { conflict, ErrorSchema, notFound } from '../http/errors.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { uniqueViolation } from './db-errors.ts';

const tags = ['billing'];

type RateCardRow = typeof rateCards.$inferSelect;

const presentCard = (c: RateCardRow) => ({
  id: c.id,
  tenantId: c.tenantId,
  currency: c.currency,
  effectiveFrom: c.effectiveFrom.toISOString(),
  sessionHour: c.sessionHour,
  appSessionHour: c.appSessionHour,
  classSessionHour: c.classSessionHour,
  gpuHour: c.gpuHour,
  createdAt: c.createdAt.toISOString(),
});

async function presentPeriod(db: Db, p: PeriodRow, tenantSlug: string) {
  return {
    id: p.id,
    tenant: tenantSlug,
    label: p.label,
    start: p.startsAt.toISOString(),
    end: p.endsAt.toISOString(),
    timeZone: p.timeZone,
    state: p.state,
    closedAt: p.closedAt?.toISOString() ?? null,
    totals: p.totals ?? (await periodTotals(db, p.id)),
  };
}

/** The tenant's periods with its open ones' records derived again from the events first. */
export const refreshedPeriods = (db: Db, tenantId: string) =>
  db.transaction((tx) => refreshUsage(tx, tenantId, new Date()));

const tenantAdmins = requireRole('platform-admin', 'tenant-admin');

/** What closes a period inside its transaction: its webhook event, and the audit entry. */
const closedBy =
  (c: Context<AppEnv>, tenantSlug: string) =>
  async (tx: Tx, period: PeriodRow): Promise<void> => {
    await onPeriodClosed(tx, period);
    await audit(c, tx, {
      tenantId: period.tenantId,
      action: 'billing-period.close',
      target: { type: 'billing-period', id: period.id },
      diff: { tenant: { from: null, to: tenantSlug }, period: { from: null, to: period.label } },
    });
  };

export function billingRoutes(db: Db) {
  const app = router();

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/billing/rate-cards',
      tags,
      summary: 'List rate cards: the platform default’s and every tenant’s (platform-admin)',
      middleware: [requireRole('platform-admin')],
      responses: { 200: json(RateCardList, 'rate cards, latest first') },
    }),
    async (c) => {
      const rows = await db
        .select()
        .from(rateCards)
        .orderBy(asc(rateCards.tenantId), desc(rateCards.effectiveFrom));
      return c.json({ items: rows.map(presentCard) }, 200);
    },
  );

  const createCard = (
    c: Context<AppEnv>,
    tenantId: string | null,
    input: z.infer<typeof RateCardCreate>,
  ) =>
    db.transaction(async (tx) => {
      const [row] = await tx
        .insert(rateCards)
        .values({ id: uuidv7(), tenantId, ...input, effectiveFrom: new Date(input.effectiveFrom) })
        .returning()
        .catch(uniqueViolation(`a rate card already takes effect at ${input.effectiveFrom}`));
      const card = presentCard(row as RateCardRow);
      await audit(c, tx, {
        tenantId,
        action: 'rate-card.create',
        target: { type: 'rate-card', id: card.id },
        diff: auditDiff(null, card),
      });
      return card;
    });

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/billing/rate-cards',
      tags,
      summary: 'Add a platform default rate card (platform-admin)',
      description:
        'It applies to periods starting at or after effectiveFrom, for tenants without an override.',
      middleware: [requireRole('platform-admin')],
      request: { body: body(RateCardCreate) },
      responses: {
        201: json(RateCard, 'created'),
        409: json(ErrorSchema, 'one exists at that instant'),
      },
    }),
    async (c) => c.json(await createCard(c, null, c.req.valid('json')), 201),
  );

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/billing/rate-cards',
      tags,
      summary: 'Add a tenant’s rate card override (platform-admin)',
      middleware: [requireRole('platform-admin')],
      request: { params: params('tenant'), body: body(RateCardCreate) },
      responses: {
        201: json(RateCard, 'created'),
        409: json(ErrorSchema, 'one exists at that instant'),
      },
    }),
    async (c) => c.json(await createCard(c, c.get('tenant').id, c.req.valid('json')), 201),
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/billing/rate-cards/{id}',
      tags,
      summary: 'Remove a rate card that has not taken effect yet (platform-admin)',
      middleware: [requireRole('platform-admin')],
      request: { params: params('id') },
      responses: {
        204: { description: 'removed' },
        409: json(ErrorSchema, 'it took effect already: add a newer card instead'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (!z.uuid().safeParse(id).success) throw notFound('rate card');
      const [card] = await db.select().from(rateCards).where(eq(rateCards.id, id));
      if (!card) throw notFound('rate card');
      if (card.effectiveFrom <= new Date()) {
        throw conflict('this rate card took effect already; add a newer one instead');
      }
      await db.transaction(async (tx) => {
        await tx.delete(rateCards).where(eq(rateCards.id, id));
        await audit(c, tx, {
          tenantId: card.tenantId,
          action: 'rate-card.delete',
          target: { type: 'rate-card', id },
          diff: auditDiff(presentCard(card), null),
        });
      });
      return c.body(null, 204);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/billing/rate-card',
      tags,
      summary: 'The rate card in force for the tenant (tenant-admin)',
      middleware: [tenantAdmins],
      request: { params: params('tenant'), query: AtQuery },
      responses: { 200: json(EffectiveRateCard, 'the card, or null when none applies') },
    }),
    async (c) => {
      const at = c.req.valid('query').at ? new Date(c.req.valid('query').at as string) : new Date();
      const tenant = c.get('tenant');
      const cards = await db
        .select()
        .from(rateCards)
        .where(or(eq(rateCards.tenantId, tenant.id), isNull(rateCards.tenantId)));
      const card = cardFor(cards as (RateCardLike & RateCardRow)[], at);
      return c.json({ at: at.toISOString(), card: card ? presentCard(card) : null }, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/billing/settings',
      tags,
      summary: 'The tenant’s billing settings (tenant-admin)',
      middleware: [tenantAdmins],
      request: { params: params('tenant') },
      responses: { 200: json(BillingSettings, 'settings') },
    }),
    async (c) => {
      const [row] = await db
        .select()
        .from(billingSettings)
        .where(eq(billingSettings.tenantId, c.get('tenant').id));
      return c.json({ timeZone: row?.timeZone ?? 'UTC' }, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'put',
      path: '/v1/tenants/{tenant}/billing/settings',
      tags,
      summary: 'Set the tenant’s billing time zone (tenant-admin)',
      description: 'Applies from the next period on; periods already made keep their bounds.',
      middleware: [tenantAdmins],
      request: { params: params('tenant'), body: body(BillingSettings) },
      responses: { 200: json(BillingSettings, 'saved') },
    }),
    async (c) => {
      const { timeZone } = c.req.valid('json');
      const tenantId = c.get('tenant').id;
      await db.transaction(async (tx) => {
        const [before] = await tx
          .select({ timeZone: billingSettings.timeZone })
          .from(billingSettings)
          .where(eq(billingSettings.tenantId, tenantId))
          .for('update');
        await tx
          .insert(billingSettings)
          .values({ tenantId, timeZone })
          .onConflictDoUpdate({
            target: billingSettings.tenantId,
            set: { timeZone, updatedAt: new Date() },
          });
        await audit(c, tx, {
          tenantId,
          action: 'billing-settings.update',
          target: { type: 'tenant', id: tenantId },
          diff: auditDiff({ timeZone: before?.timeZone ?? 'UTC' }, { timeZone }),
        });
      });
      return c.json({ timeZone }, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/billing/periods',
      tags,
      summary: 'The tenant’s billing periods, latest first (tenant-admin)',
      middleware: [tenantAdmins],
      request: { params: params('tenant') },
      responses: { 200: json(PeriodList, 'periods') },
    }),
    async (c) => {
      const tenant = c.get('tenant');
      const periods = await refreshedPeriods(db, tenant.id);
      const items = await Promise.all(
        periods.toReversed().map((p) => presentPeriod(db, p, tenant.slug)),
      );
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/billing/periods/{period}',
      tags,
      summary: 'A period’s totals per user, app, GPU SKU and day (tenant-admin)',
      middleware: [tenantAdmins],
      request: { params: PeriodParams },
      responses: { 200: json(PeriodSummary, 'the summary') },
    }),
    async (c) => {
      const tenant = c.get('tenant');
      const { period: label } = c.req.valid('param');
      const periods = await refreshedPeriods(db, tenant.id);
      const period = periods.find((p) => p.label === label);
      if (!period) throw notFound(`billing period ${label}`);
      return c.json(await summarize(db, period, tenant), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/billing/periods/{period}/close',
      tags,
      summary: 'Close a period that is over (platform-admin)',
      description:
        'Its usage records are derived a last time and its totals frozen: from then on the ' +
        'database refuses any change to either. Usage that arrives later for it becomes an ' +
        'adjustment record in the next open period. Periods close in order.',
      middleware: [requireRole('platform-admin')],
      request: { params: PeriodParams },
      responses: {
        200: json(Period, 'closed'),
        409: json(ErrorSchema, 'already closed, not over yet, or an earlier period is open'),
      },
    }),
    async (c) => {
      const tenant = c.get('tenant');
      const { period: label } = c.req.valid('param');
      const closed = await closePeriod(db, {
        tenantId: tenant.id,
        label,
        now: new Date(),
        onClosed: closedBy(c, tenant.slug),
      }).catch((err) => {
        if (err instanceof PeriodRefused) {
          throw err.message.startsWith('no billing period')
            ? notFound(err.message.slice(3))
            : conflict(err.message);
        }
        throw err;
      });
      return c.json(await presentPeriod(db, closed, tenant.slug), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/billing/periods/{period}/close',
      tags,
      summary: 'Close every tenant’s period of that month that is still open (platform-admin)',
      description:
        'As closing each tenant’s period in turn; a tenant whose period is not over yet or ' +
        'has an earlier one open is left open and named in `skipped`.',
      middleware: [requireRole('platform-admin')],
      request: { params: params('period').extend({ period: PeriodLabel }) },
      responses: { 200: json(PlatformClose, 'what was closed and what was left open') },
    }),
    async (c) => {
      const { period: label } = c.req.valid('param');
      const all = await db.select().from(tenants).orderBy(asc(tenants.slug));
      const closed = [];
      const skipped = [];
      for (const t of all) {
        const periods = await refreshedPeriods(db, t.id);
        const p = periods.find((q) => q.label === label);
        if (!p || p.state === 'closed') continue;
        try {
          const row = await closePeriod(db, {
            tenantId: t.id,
            label,
            now: new Date(),
            onClosed: closedBy(c, t.slug),
          });
          closed.push(await presentPeriod(db, row, t.slug));
        } catch (err) {
          if (!(err instanceof PeriodRefused)) throw err;
          skipped.push({ tenant: t.slug, reason: err.message });
        }
      }
      if (closed.length === 0) unchanged(c);
      return c.json({ label, closed, skipped }, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/billing/periods/{period}',
      tags,
      summary: 'Every tenant’s period of that month, with its totals (platform-admin)',
      middleware: [requireRole('platform-admin')],
      request: { params: params('period').extend({ period: PeriodLabel }) },
      responses: { 200: json(PlatformPeriod, 'the periods, by tenant slug') },
    }),
    async (c) => {
      const { period: label } = c.req.valid('param');
      const all = await db.select().from(tenants).orderBy(asc(tenants.slug));
      const items = [];
      for (const t of all) {
        const periods = await refreshedPeriods(db, t.id);
        const p = periods.find((q) => q.label === label);
        if (p) items.push(await presentPeriod(db, p, t.slug));
      }
      return c.json({ label, items }, 200);
    },
  );

  return app;
}

async function summarize(db: Db, period: PeriodRow, tenant: TenantRow) {
  const group = async (key: ReturnType<typeof sql>) =>
    (
      await queryRows<{
        key: string;
        records: number;
        session_seconds: string;
        gpu_seconds: string;
        amount: string;
      }>(
        db,
        sql`select ${key} as key, count(*)::int as records,
            sum(session_seconds)::numeric(18,3)::text as session_seconds,
            sum(gpu_seconds)::numeric(18,3)::text as gpu_seconds,
            sum(amount)::numeric(18,6)::text as amount
          from usage_records where period_id = ${period.id}
          group by 1 order by 1`,
      )
    ).map((r) => ({
      key: r.key,
      records: Number(r.records),
      sessionSeconds: r.session_seconds,
      gpuSeconds: r.gpu_seconds,
      amount: r.amount,
    }));
  const [byUser, byApp, bySku, byDay] = await Promise.all([
    group(sql`user_email`),
    group(sql`app_slug`),
    group(sql`coalesce(gpu_sku, '')`),
    group(sql`to_char(slice_start at time zone ${period.timeZone}, 'YYYY-MM-DD')`),
  ]);
  return { period: await presentPeriod(db, period, tenant.slug), byUser, byApp, bySku, byDay };
}

/** the tenant's periods (by label), for the export routes */
export async function periodsOf(db: Db, tenantId: string) {
  return db
    .select()
    .from(billingPeriods)
    .where(and(eq(billingPeriods.tenantId, tenantId)))
    .orderBy(asc(billingPeriods.startsAt));
}
