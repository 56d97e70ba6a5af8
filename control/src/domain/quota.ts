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
