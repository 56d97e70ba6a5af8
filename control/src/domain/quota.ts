/** Limits that apply to one launch; null means unlimited. */
export interface Limits {
  tenant: { maxSessions: number | null; maxGpus: number | null; gpuHoursPerMonth: number | null };
  user: { maxSessions: number | null; maxGpus: number | null };
}

/** What the tenant and the user hold right now (active sessions only). */
export interface Usage {
  tenantSessions: number;
  tenantGpus: number;
  userSessions: number;
  userGpus: number;
  /** GPU-seconds used this calendar month (UTC); only needed when a GPU-hours quota applies. */
  tenantGpuSecondsThisMonth: number;
}

export type QuotaName =
  | 'tenant.maxSessions'
  | 'tenant.maxGpus'
  | 'tenant.gpuHoursPerMonth'
  | 'user.maxSessions'
  | 'user.maxGpus';

export type QuotaDecision = { ok: true } | { ok: false; quota: QuotaName; message: string };

/** Whether a GPU-hours check is needed at all (it costs a query over the month's events). */
export function needsMonthlyGpuUsage(limits: Limits, gpus: number): boolean {
  return gpus > 0 && limits.tenant.gpuHoursPerMonth !== null;
}

/** Decides whether one more session asking for `gpus` GPUs fits every quota. */
export function checkQuota(limits: Limits, usage: Usage, gpus: number): QuotaDecision {
  const { tenant, user } = limits;
  if (tenant.maxSessions !== null && usage.tenantSessions + 1 > tenant.maxSessions) {
    return refuse('tenant.maxSessions', `tenant allows ${tenant.maxSessions} concurrent sessions`);
  }
  if (user.maxSessions !== null && usage.userSessions + 1 > user.maxSessions) {
    return refuse('user.maxSessions', `user allows ${user.maxSessions} concurrent sessions`);
  }
  if (gpus > 0) {
    if (tenant.maxGpus !== null && usage.tenantGpus + gpus > tenant.maxGpus) {
      return refuse(
        'tenant.maxGpus',
        `tenant allows ${tenant.maxGpus} GPUs, ${usage.tenantGpus} in use, ${gpus} asked`,
      );
    }
    if (user.maxGpus !== null && usage.userGpus + gpus > user.maxGpus) {
      return refuse(
        'user.maxGpus',
        `user allows ${user.maxGpus} GPUs, ${usage.userGpus} in use, ${gpus} asked`,
      );
    }
    if (
      tenant.gpuHoursPerMonth !== null &&
      usage.tenantGpuSecondsThisMonth >= tenant.gpuHoursPerMonth * 3600
    ) {
      return refuse(
        'tenant.gpuHoursPerMonth',
        `tenant used its ${tenant.gpuHoursPerMonth} GPU-hours this month`,
      );
    }
  }
  return { ok: true };
}

function refuse(quota: QuotaName, message: string): QuotaDecision {
  return { ok: false, quota, message: `quota ${quota} exceeded: ${message}` };
}
