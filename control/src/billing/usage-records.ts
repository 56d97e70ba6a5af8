/**
 * The database side of billing: periods are created as time passes, an open period's usage
 * records are recomputed from session_events (deleted and derived again, so they can never
 * drift from the events), and closing a period freezes it (the triggers of
 * drizzle/0007_billing.sql refuse any later change).
 */
import { and, asc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { type Db, queryRows, type Tx } from '../db/connect.ts';
import {
  billingPeriods,
  billingSettings,
  type PeriodTotals,
  rateCards,
  SESSION_STATES,
  type SessionState,
  stateIsActive,
  tenants,
  usageRecords,
} from '../db/schema.ts';
import { periodAfter, periodAt } from './calendar.ts';
import { formatDecimal, parseDecimal } from './decimal.ts';
import {
  AMOUNT_SCALE,
  amountOf,
  cardFor,
  NO_CURRENCY,
  type RateCardLike,
  SECONDS_SCALE,
} from './pricing.ts';
import { type PeriodRef, planRecords, type StateChange, sliceSession } from './slices.ts';

export type PeriodRow = typeof billingPeriods.$inferSelect;

const INSERT_BATCH = 500;

/** every session state, as SQL literals (from the constant, never from input) */
const EVERY_STATE = sql.raw(SESSION_STATES.map((s) => `'${s}'`).join(', '));

/** Billing's lock on one tenant, held to the end of the transaction. */
async function lockTenant(tx: Tx, tenantId: string) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`floe-billing:${tenantId}`}))`);
}

export async function tenantTimeZone(db: Db | Tx, tenantId: string): Promise<string> {
  const [row] = await db
    .select({ tz: billingSettings.timeZone })
    .from(billingSettings)
    .where(eq(billingSettings.tenantId, tenantId));
  return row?.tz ?? 'UTC';
}

/**
 * The tenant's periods, oldest first, created up to the one holding `now`. The first one
 * holds the tenant's first billed instant (or its creation).
 */
export async function ensurePeriods(tx: Tx, tenantId: string, now: Date): Promise<PeriodRow[]> {
  const periods = await tx
    .select()
    .from(billingPeriods)
    .where(eq(billingPeriods.tenantId, tenantId))
    .orderBy(asc(billingPeriods.startsAt));
  const last = periods.at(-1);
  if (last && last.endsAt > now) return periods;
  const tz = await tenantTimeZone(tx, tenantId);
  const fresh: (typeof billingPeriods.$inferInsert)[] = [];
  let bounds = last ? periodAfter({ label: last.label, end: last.endsAt }, tz) : null;
  if (!bounds) {
    const [first] = await queryRows<{ at: string | Date | null }>(
      tx,
      sql`select least(
        (select min(at) from session_events where tenant_id = ${tenantId} and to_state = 'running'),
        (select created_at from tenants where id = ${tenantId})) as at`,
    );
    bounds = periodAt(first?.at ? new Date(first.at) : now, tz);
  }
  for (;;) {
    fresh.push({
      id: uuidv7(),
      tenantId,
      timeZone: tz,
      label: bounds.label,
      startsAt: bounds.start,
      endsAt: bounds.end,
    });
    if (bounds.end > now) break;
    bounds = periodAfter({ label: bounds.label, end: bounds.end }, tz);
  }
  const inserted = await tx.insert(billingPeriods).values(fresh).returning();
  return [...periods, ...inserted];
}

const ref = (p: PeriodRow): PeriodRef => ({
  id: p.id,
  start: p.startsAt,
  end: p.endsAt,
  state: p.state,
});

interface SessionFacts {
  id: string;
  user_id: string;
  email: string;
  app_id: string;
  app_slug: string;
  app_class: string | null;
  cluster_id: string | null;
  cluster_name: string | null;
  region: string | null;
  gpu_sku: string | null;
  gpu_count: number;
}

/**
 * Derives the tenant's usage records in its open periods again from session_events, with
 * adjustments for late usage of closed periods. Reads only the sessions that can have
 * changed: those with events in the open periods or after the last close, and live ones.
 */
export async function refreshUsage(tx: Tx, tenantId: string, now: Date): Promise<PeriodRow[]> {
  await lockTenant(tx, tenantId);
  const periods = await ensurePeriods(tx, tenantId, now);
  const open = periods.filter((p) => p.state === 'open');
  const firstOpen = open[0];
  if (!firstOpen) return periods;
  const watermark = periods.filter((p) => p.state === 'closed').at(-1)?.eventWatermark ?? 0;
  // three index-friendly parts rather than one OR: events since the first open period (by
  // session_events_usage, every state listed so that its third column applies), events
  // after the last close (by id: late ones), and the live sessions
  const candidates = sql`(
    select e.session_id from session_events e
      where e.tenant_id = ${tenantId}
        and e.to_state in (${EVERY_STATE})
        and e.at >= ${firstOpen.startsAt.toISOString()}::timestamptz
    union
    select e.session_id from session_events e
      where e.id > ${watermark} and e.tenant_id = ${tenantId}
    union
    select s.id from sessions s
      where s.tenant_id = ${tenantId} and ${stateIsActive(sql`s.state`)})`;
  // one after another: a transaction is one connection, which runs one query at a time
  const facts = await queryRows<SessionFacts>(
    tx,
    sql`select s.id, s.user_id, u.email, s.app_id, a.slug as app_slug, a.app_class, s.cluster_id,
        c.name as cluster_name, c.region, s.gpu_sku, s.gpu_count
      from sessions s join users u on u.id = s.user_id join apps a on a.id = s.app_id
        left join clusters c on c.id = s.cluster_id
      where s.id in ${candidates} order by s.id`,
  );
  const events = await queryRows<{
    session_id: string;
    id: string | number;
    to_state: SessionState;
    at: string | Date;
  }>(
    tx,
    sql`select session_id, id, to_state, at from session_events
      where session_id in ${candidates} order by session_id, id`,
  );
  const frozen = await queryRows<{ session_id: string; period_id: string; seconds: string }>(
    tx,
    sql`select r.session_id, coalesce(r.adjusts_period_id, r.period_id) as period_id,
        sum(r.session_seconds)::text as seconds
      from usage_records r join billing_periods p on p.id = r.period_id
      where p.state = 'closed' and r.session_id in ${candidates}
      group by 1, 2`,
  );
  const cards = await tx
    .select()
    .from(rateCards)
    .where(or(eq(rateCards.tenantId, tenantId), isNull(rateCards.tenantId)));
  const eventsBySession = new Map<string, StateChange[]>();
  for (const e of events) {
    const list = eventsBySession.get(e.session_id) ?? [];
    list.push({ id: Number(e.id), toState: e.to_state, at: new Date(e.at) });
    eventsBySession.set(e.session_id, list);
  }
  const frozenBySession = new Map<string, Map<string, number>>();
  for (const f of frozen) {
    const m = frozenBySession.get(f.session_id) ?? new Map<string, number>();
    m.set(f.period_id, Number(parseDecimal(f.seconds, SECONDS_SCALE)));
    frozenBySession.set(f.session_id, m);
  }
  const refs = periods.map(ref);
  const cardOf = new Map(open.map((p) => [p.id, cardFor(cards as RateCardLike[], p.startsAt)]));
  const rows: (typeof usageRecords.$inferInsert)[] = [];
  for (const s of facts) {
    const slices = sliceSession(eventsBySession.get(s.id) ?? [], refs, now);
    const planned = planRecords(slices, refs, frozenBySession.get(s.id) ?? new Map());
    for (const r of planned) {
      const card = cardOf.get(r.periodId) ?? null;
      const sessionMs = BigInt(r.ms);
      const gpuMs = sessionMs * BigInt(s.gpu_count);
      rows.push({
        periodId: r.periodId,
        tenantId,
        kind: r.kind,
        adjustsPeriodId: r.adjustsPeriodId,
        sessionId: s.id,
        userId: s.user_id,
        userEmail: s.email,
        appId: s.app_id,
        appSlug: s.app_slug,
        appClass: s.app_class,
        clusterId: s.cluster_id,
        clusterName: s.cluster_name,
        region: s.region,
        gpuSku: s.gpu_sku,
        gpuCount: s.gpu_count,
        sliceStart: r.start,
        sliceEnd: r.end,
        sessionSeconds: formatDecimal(sessionMs, SECONDS_SCALE),
        gpuSeconds: formatDecimal(gpuMs, SECONDS_SCALE),
        currency: card?.currency ?? NO_CURRENCY,
        amount: formatDecimal(
          amountOf(card, {
            appSlug: s.app_slug,
            appClass: s.app_class,
            gpuSku: s.gpu_sku,
            sessionMs,
            gpuMs,
          }),
          AMOUNT_SCALE,
        ),
      });
    }
  }
  await tx.delete(usageRecords).where(
    inArray(
      usageRecords.periodId,
      open.map((p) => p.id),
    ),
  );
  // records in a stable order (period, session, kind): ids, and so exports, follow it
  rows.sort(
    (a, b) =>
      a.periodId.localeCompare(b.periodId) ||
      (a.sliceStart as Date).getTime() - (b.sliceStart as Date).getTime() ||
      a.sessionId.localeCompare(b.sessionId) ||
      a.kind.localeCompare(b.kind),
  );
  for (let i = 0; i < rows.length; i += INSERT_BATCH) {
    await tx.insert(usageRecords).values(rows.slice(i, i + INSERT_BATCH));
  }
  return periods;
}

/** Sums of a period's records, as exact decimal strings. */
export async function periodTotals(db: Db | Tx, periodId: string): Promise<PeriodTotals> {
  const [row] = await queryRows<{
    records: number;
    session_seconds: string;
    gpu_seconds: string;
    amount: string;
    currency: string | null;
  }>(
    db,
    sql`select count(*)::int as records,
        coalesce(sum(session_seconds), 0)::numeric(18,3)::text as session_seconds,
        coalesce(sum(gpu_seconds), 0)::numeric(18,3)::text as gpu_seconds,
        coalesce(sum(amount), 0)::numeric(18,6)::text as amount,
        min(currency) as currency
      from usage_records where period_id = ${periodId}`,
  );
  return {
    records: Number(row?.records ?? 0),
    sessionSeconds: row?.session_seconds ?? '0.000',
    gpuSeconds: row?.gpu_seconds ?? '0.000',
    amount: row?.amount ?? '0.000000',
    currency: row?.currency ?? NO_CURRENCY,
  };
}

export class PeriodRefused extends Error {}

/**
 * The hook for `billing.period.closed`: called inside the closing transaction, after the
 * period froze, so that an outbox row written here commits (or rolls back) with the close.
 */
export type OnPeriodClosed = (tx: Tx, period: PeriodRow) => Promise<void>;

/**
 * Closes a period that is over, after every earlier one: its records are derived one last
 * time, its totals written, and from then on the database refuses any change to either.
 */
export async function closePeriod(
  db: Db,
  q: { tenantId: string; label: string; now: Date; onClosed: OnPeriodClosed },
): Promise<PeriodRow> {
  return db.transaction(async (tx) => {
    const periods = await refreshUsage(tx, q.tenantId, q.now);
    const period = periods.find((p) => p.label === q.label);
    if (!period) throw new PeriodRefused(`no billing period ${q.label}`);
    if (period.state === 'closed') throw new PeriodRefused(`period ${q.label} is already closed`);
    if (period.endsAt > q.now) {
      throw new PeriodRefused(`period ${q.label} runs until ${period.endsAt.toISOString()}`);
    }
    const earlier = periods.find((p) => p.state === 'open' && p.startsAt < period.startsAt);
    if (earlier) throw new PeriodRefused(`close period ${earlier.label} first`);
    const totals = await periodTotals(tx, period.id);
    const [{ watermark } = { watermark: 0 }] = await queryRows<{ watermark: string | number }>(
      tx,
      sql`select coalesce(max(id), 0) as watermark from session_events`,
    );
    const cards = await tx
      .select()
      .from(rateCards)
      .where(or(eq(rateCards.tenantId, q.tenantId), isNull(rateCards.tenantId)));
    const [closed] = await tx
      .update(billingPeriods)
      .set({
        state: 'closed',
        closedAt: q.now,
        eventWatermark: Number(watermark),
        rateCardId: cardFor(cards as RateCardLike[], period.startsAt)?.id ?? null,
        totals,
      })
      .where(and(eq(billingPeriods.id, period.id), eq(billingPeriods.state, 'open')))
      .returning();
    if (!closed) throw new PeriodRefused(`period ${q.label} is already closed`);
    await q.onClosed(tx, closed);
    return closed;
  });
}

/** Whether tenant `id` exists (deleted ones keep their bills). */
export async function tenantExists(db: Db, id: string) {
  const [row] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, id));
  return Boolean(row);
}
