// The quota decision at launch runs inside floe_admit_session (drizzle/0006_quota_sku.sql),
// where it is atomic with the insert in a single round trip; this names its answers. The
// GPU-hours decision on running sessions (gpuHoursDecision) is made here, in the periodic
// sweep (sessions/gpu-hours.ts).
import type { GpuHoursExceededAction } from '../db/schema.ts';

export type QuotaName =
  | 'tenant.maxSessions'
  | 'tenant.maxGpus'
  | 'tenant.maxGpusPerSku'
  | 'tenant.gpuHoursPerMonth'
  | 'user.maxSessions'
  | 'user.maxGpus'
  | 'user.maxGpusPerSku';

/** What a launch's 429 says of the quota that refused it (the body's `error`, besides code). */
export interface QuotaRefusal {
  quota: QuotaName;
  /** the GPU SKU, for the per-SKU quotas */
  sku?: string;
  limit: number;
  /** what the tenant or user holds (or, for GPU-hours, has used this month) */
  used: number;
}

const WHAT: Record<QuotaName, (used: number, limit: number, sku: string) => string> = {
  'tenant.maxSessions': (used, limit) =>
    `the tenant allows ${limit} concurrent sessions (${used} active)`,
  'user.maxSessions': (used, limit) =>
    `the user allows ${limit} concurrent sessions (${used} active)`,
  'tenant.maxGpus': (used, limit) => `the tenant allows ${limit} GPUs (${used} in use)`,
  'user.maxGpus': (used, limit) => `the user allows ${limit} GPUs (${used} in use)`,
  'tenant.maxGpusPerSku': (used, limit, sku) =>
    `the tenant allows ${limit} ${sku} GPUs (${used} in use)`,
  'user.maxGpusPerSku': (used, limit, sku) =>
    `the user allows ${limit} ${sku} GPUs (${used} in use)`,
  'tenant.gpuHoursPerMonth': (used, limit) =>
    `the tenant used ${used.toFixed(1)} of its ${limit} GPU-hours this month`,
};

/** The message of a 429: which quota (and SKU), its limit and what is held. */
export function quotaMessage(r: QuotaRefusal): string {
  const name = r.sku ? `${r.quota}[${r.sku}]` : r.quota;
  return `quota ${name} exceeded: ${WHAT[r.quota](r.used, r.limit, r.sku ?? '')}`;
}

/** How long to wait before a launch this quota refused may succeed: the 429's Retry-After. */
export function quotaRetryAfterSeconds(quota: QuotaName, now: Date): number {
  if (quota === 'tenant.gpuHoursPerMonth') {
    // the monthly allowance starts again on the 1st, 00:00 UTC
    const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
  }
  // concurrent sessions or GPUs: one of the caller's sessions may end at any moment
  return 30;
}

/** The share of the month's GPU-hours at which tenants are warned. */
export const GPU_HOURS_WARNING_RATIO = 0.9;

export interface GpuHoursState {
  /** GPU-seconds of the month so far, running sessions' accrued time included */
  usedGpuSeconds: number;
  /** the tenant's gpuHoursPerMonth; null: unlimited */
  budgetHours: number | null;
  action: GpuHoursExceededAction;
  /** whether this period's quota.warning / quota.exceeded was already recorded */
  warned: boolean;
  exceeded: boolean;
  /** the tenant's active GPU sessions, which `stop` would end */
  activeGpuSessions: number;
}

export interface GpuHoursDecision {
  level: 'none' | 'warn' | 'enforce';
  /** the events to record now: each at most once per period */
  emit: ('quota.warning' | 'quota.exceeded')[];
  /** stop the tenant's active GPU sessions (action `stop`, at 100 %) */
  stopGpuSessions: boolean;
}

/**
 * The GPU-hours decision for one tenant: below 90 % nothing; from 90 % a warning (once per
 * period); from 100 % the exceeded event (once) and, when the tenant chose `stop`, its GPU
 * sessions stopped — every time, as a launch admitted just before the limit may still run.
 * `refuse` leaves running sessions alone: admission turns new GPU launches away.
 */
export function gpuHoursDecision(s: GpuHoursState): GpuHoursDecision {
  // nothing used, nothing to say (a budget of 0 allows no GPU at all; admission refuses)
  if (s.budgetHours === null || s.usedGpuSeconds <= 0) {
    return { level: 'none', emit: [], stopGpuSessions: false };
  }
  const budget = s.budgetHours * 3600;
  const level =
    s.usedGpuSeconds >= budget
      ? 'enforce'
      : s.usedGpuSeconds >= budget * GPU_HOURS_WARNING_RATIO
        ? 'warn'
        : 'none';
  const emit: GpuHoursDecision['emit'] = [];
  // a tenant that jumps past 100 % in one sweep still gets its warning first
  if (level !== 'none' && !s.warned) emit.push('quota.warning');
  if (level === 'enforce' && !s.exceeded) emit.push('quota.exceeded');
  return {
    level,
    emit,
    stopGpuSessions: level === 'enforce' && s.action === 'stop' && s.activeGpuSessions > 0,
  };
}
