// The quota decision itself runs inside floe_admit_session (drizzle/0001_admission.sql),
// where it is atomic with the insert in a single round trip; this names its answers.

export type QuotaName =
  | 'tenant.maxSessions'
  | 'tenant.maxGpus'
  | 'tenant.gpuHoursPerMonth'
  | 'user.maxSessions'
  | 'user.maxGpus';

const WHAT: Record<QuotaName, (held: number, limit: number) => string> = {
  'tenant.maxSessions': (held, limit) =>
    `the tenant allows ${limit} concurrent sessions (${held} active)`,
  'user.maxSessions': (held, limit) =>
    `the user allows ${limit} concurrent sessions (${held} active)`,
  'tenant.maxGpus': (held, limit) => `the tenant allows ${limit} GPUs (${held} in use)`,
  'user.maxGpus': (held, limit) => `the user allows ${limit} GPUs (${held} in use)`,
  'tenant.gpuHoursPerMonth': (held, limit) =>
    `the tenant used ${held.toFixed(1)} of its ${limit} GPU-hours this month`,
};

/** The message of a 429: which quota, its limit and what is held. */
export function quotaMessage(quota: QuotaName, held: number, limit: number): string {
  return `quota ${quota} exceeded: ${WHAT[quota](held, limit)}`;
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
