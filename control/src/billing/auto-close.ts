/**
 * Billing periods close by themselves a grace time after they end (FLOE_BILLING_AUTO_CLOSE_HOURS),
 * so that finance gets a frozen month without anyone pressing a button, and usage that a
 * cluster reports late but within the grace still lands in its own month rather than as an
 * adjustment in the next one. Any replica may run this: closing takes the tenant's billing
 * lock and refuses a period already closed, so two replicas close it once.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { recordAudit, SYSTEM_ACTOR } from '../audit/record.ts';
import { type Db, queryRows } from '../db/connect.ts';
import { onPeriodClosed } from './hooks.ts';
import { closePeriod, PeriodRefused, refreshUsage } from './usage-records.ts';

interface PeriodLike {
  label: string;
  startsAt: Date;
  endsAt: Date;
  state: 'open' | 'closed';
}

/** The open periods whose grace is over at `now`, oldest first (the order closing needs). */
export function dueForClosing(periods: PeriodLike[], now: Date, graceMs: number): string[] {
  return periods
    .filter((p) => p.state === 'open' && p.endsAt.getTime() + graceMs <= now.getTime())
    .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime())
    .map((p) => p.label);
}

export interface AutoCloseDeps {
  db: Db;
  log: Logger;
  graceMs: number;
  onClosed?: () => void;
}

/**
 * Closes every period that is due, for every tenant that can have one: a tenant whose
 * newest period ended before the grace began (its later periods are made here first, so a
 * tenant that nobody looked at still gets its months closed), or that has an open period
 * past its grace. Other tenants cost one index lookup.
 */
export async function closeDuePeriods(deps: AutoCloseDeps, now = new Date()) {
  const cutoff = new Date(now.getTime() - deps.graceMs).toISOString();
  const tenants = await queryRows<{ id: string; slug: string }>(
    deps.db,
    sql`select t.id, t.slug from tenants t
      where coalesce((select max(p.ends_at) from billing_periods p where p.tenant_id = t.id),
          '-infinity') <= ${cutoff}::timestamptz
        or exists (select 1 from billing_periods p
          where p.tenant_id = t.id and p.state = 'open' and p.ends_at <= ${cutoff}::timestamptz)
      order by t.id`,
  );
  let closed = 0;
  for (const tenant of tenants) {
    const closeOne = (label: string) =>
      closePeriod(deps.db, {
        tenantId: tenant.id,
        label,
        now,
        onClosed: async (tx, period) => {
          await onPeriodClosed(tx, period);
          await recordAudit(tx, {
            actor: SYSTEM_ACTOR,
            tenantId: period.tenantId,
            action: 'billing-period.close',
            target: { type: 'billing-period', id: period.id },
            diff: {
              tenant: { from: null, to: tenant.slug },
              period: { from: null, to: period.label },
              reason: { from: null, to: 'its grace after the end of the period is over' },
            },
          });
        },
      });
    try {
      const periods = await deps.db.transaction((tx) => refreshUsage(tx, tenant.id, now));
      for (const label of dueForClosing(periods, now, deps.graceMs)) {
        await closeOne(label);
        closed += 1;
        deps.onClosed?.();
        deps.log.info({ tenant: tenant.slug, period: label }, 'billing period closed');
      }
    } catch (err) {
      // PeriodRefused: another replica closed it a moment ago, and goes on with the next
      // ones; anything else stops this tenant's closing until the next run, not the others'
      if (!(err instanceof PeriodRefused)) {
        deps.log.error({ err, tenant: tenant.slug }, 'closing billing periods failed');
      }
    }
  }
  return { tenants: tenants.length, closed };
}
