import { and, eq, gt, inArray, ne, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { type Db, queryRows } from '../db/connect.ts';
import {
  type GpuHoursExceededAction,
  type QuotaEventType,
  sessionIsActive,
  sessions,
  stateIsActive,
} from '../db/schema.ts';
import { type GpuHoursDecision, gpuHoursDecision } from '../domain/quota.ts';
import { onQuotaEvent } from './quota-events.ts';
import type { Supervisor } from './supervisor.ts';
import { startOfMonthUtc } from './usage.ts';

const QUOTA = 'tenant.gpuHoursPerMonth';
export const GPU_HOURS_STOP_REASON = 'the tenant’s GPU-hours for the month are used up';

export interface GpuHoursSweepDeps {
  db: Db;
  supervisor: Pick<Supervisor, 'attached' | 'terminate'>;
  log: Logger;
  /** told of each quota event recorded (the floe_quota_events_total counter) */
  onEvent?: (type: QuotaEventType) => void;
}

export interface GpuHoursOutcome {
  tenantId: string;
  decision: GpuHoursDecision;
  recorded: QuotaEventType[];
  stopped: number;
}

interface TenantUse {
  id: string;
  budget: number;
  action: GpuHoursExceededAction;
  used: number;
  warned: boolean;
  exceeded: boolean;
  active_gpu: number;
}

/**
 * Holds every tenant with a GPU-hour budget to it on running sessions too (admission holds
 * launches to it): usage of the month so far, running sessions' accrued GPU-seconds included
 * (floe_usage_spans, the same count admission and usage reports read), goes through
 * gpuHoursDecision; the events it asks for are recorded through onQuotaEvent, and at 100 %
 * the GPU sessions of a `stop` tenant on this process's clusters are stopped.
 * Level-triggered: call it periodically; a second call in the same state changes nothing.
 */
export async function enforceGpuHours(
  deps: GpuHoursSweepDeps,
  now = new Date(),
): Promise<GpuHoursOutcome[]> {
  const { db, log } = deps;
  const periodStart = startOfMonthUtc(now);
  const from = periodStart.toISOString();
  const tenantsInUse = await queryRows<TenantUse>(
    db,
    sql`select t.id, t.gpu_hours_per_month as budget, t.gpu_hours_exceeded_action as action,
      (select coalesce(sum(sp.seconds * sp.gpu_count), 0)::float8
         from floe_usage_spans(t.id, ${from}::timestamptz, 'infinity') sp) as used,
      exists (select 1 from quota_events q where q.tenant_id = t.id and q.quota = ${QUOTA}
        and q.period_start = ${from}::timestamptz and q.type = 'quota.warning') as warned,
      exists (select 1 from quota_events q where q.tenant_id = t.id and q.quota = ${QUOTA}
        and q.period_start = ${from}::timestamptz and q.type = 'quota.exceeded') as exceeded,
      (select count(*) from sessions s where s.tenant_id = t.id
        and ${stateIsActive(sql`s.state`)} and s.gpu_count > 0)::int as active_gpu
    from tenants t where t.deleted_at is null and t.gpu_hours_per_month is not null`,
  );
  const outcomes: GpuHoursOutcome[] = [];
  for (const t of tenantsInUse) {
    // one tenant's failure (a driver that cannot stop a session) does not spare the others
    try {
      outcomes.push(await enforceOne(deps, t, periodStart, now));
    } catch (err) {
      log.error({ err, tenantId: t.id }, 'enforcing the GPU-hour quota failed');
    }
  }
  return outcomes;
}

async function enforceOne(
  deps: GpuHoursSweepDeps,
  t: TenantUse,
  periodStart: Date,
  now: Date,
): Promise<GpuHoursOutcome> {
  const { db, log } = deps;
  const from = periodStart.toISOString();
  const used = Number(t.used);
  const decision = gpuHoursDecision({
    usedGpuSeconds: used,
    budgetHours: Number(t.budget),
    action: t.action,
    warned: t.warned,
    exceeded: t.exceeded,
    activeGpuSessions: Number(t.active_gpu),
  });
  const outcome: GpuHoursOutcome = { tenantId: t.id, decision, recorded: [], stopped: 0 };
  if (decision.emit.length > 0) {
    const data = {
      quota: QUOTA,
      limitHours: Number(t.budget),
      usedHours: used / 3600,
      ratio: Number(t.budget) > 0 ? used / (Number(t.budget) * 3600) : null,
      action: t.action,
      period: {
        from,
        to: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
      },
    };
    outcome.recorded = await db.transaction(async (tx) => {
      const recorded: QuotaEventType[] = [];
      for (const type of decision.emit) {
        const event = { tenantId: t.id, type, quota: QUOTA, periodStart, data };
        if ((await onQuotaEvent(tx, event)).recorded) recorded.push(type);
      }
      return recorded;
    });
    for (const type of outcome.recorded) {
      deps.onEvent?.(type);
      log.warn({ tenantId: t.id, event: type, ...data }, 'quota event %s', type);
    }
  }
  if (decision.stopGpuSessions) outcome.stopped = await stopGpuSessions(deps, t.id);
  return outcome;
}

/** Stops the tenant's active GPU sessions on clusters this process drives. */
async function stopGpuSessions(deps: GpuHoursSweepDeps, tenantId: string): Promise<number> {
  const clusterIds = deps.supervisor.attached();
  if (clusterIds.length === 0) return 0;
  const rows = await deps.db
    .select({ id: sessions.id })
    .from(sessions)
    .where(
      and(
        eq(sessions.tenantId, tenantId),
        sessionIsActive(),
        ne(sessions.state, 'stopping'),
        gt(sessions.gpuCount, 0),
        inArray(sessions.clusterId, clusterIds),
      ),
    );
  let stopped = 0;
  for (const { id } of rows) {
    if (await deps.supervisor.terminate(id, GPU_HOURS_STOP_REASON)) stopped++;
  }
  if (stopped > 0)
    deps.log.warn({ tenantId, stopped }, 'stopped GPU sessions over the GPU-hour quota');
  return stopped;
}
