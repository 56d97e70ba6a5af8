// Decisions of the delivery worker, as pure functions (unit-tested as tables): when to try
// again, when to give up on a delivery, when to turn an endpoint off.

export interface RetryPolicy {
  /** the first retry's delay before jitter */
  initialDelayMs: number;
  /** no single wait is longer */
  maxDelayMs: number;
  /** a delivery is given up this long after its event */
  giveUpAfterMs: number;
  /** an endpoint is disabled after failing this many attempts in a row… */
  disableAfterFailures: number;
  /** …over at least this long (a burst of failures in one minute is not "sustained") */
  disableAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialDelayMs: 5_000,
  maxDelayMs: 2 * 60 * 60_000,
  giveUpAfterMs: 24 * 60 * 60_000,
  disableAfterFailures: 20,
  disableAfterMs: 24 * 60 * 60_000,
};

/**
 * The wait before attempt `attempts + 1`: exponential, capped, with "equal jitter" (half
 * fixed, half random) so that endpoints that failed together do not retry together.
 * `random` is in [0, 1).
 */
export function retryDelayMs(attempts: number, policy: RetryPolicy, random: number): number {
  const base = Math.min(policy.initialDelayMs * 2 ** Math.max(0, attempts - 1), policy.maxDelayMs);
  return Math.round(base / 2 + (base / 2) * random);
}

export interface AttemptResult {
  ok: boolean;
  status: number | null;
  error: string | null;
}

export type DeliveryDecision =
  | { state: 'succeeded' }
  | { state: 'pending'; nextAttemptAt: Date }
  | { state: 'failed' };

/** What becomes of a delivery after an attempt (`attempts` counts it). */
export function afterAttempt(
  delivery: { attempts: number; createdAt: Date },
  result: AttemptResult,
  now: Date,
  policy: RetryPolicy,
  random: number,
): DeliveryDecision {
  if (result.ok) return { state: 'succeeded' };
  const next = new Date(now.getTime() + retryDelayMs(delivery.attempts, policy, random));
  if (next.getTime() - delivery.createdAt.getTime() > policy.giveUpAfterMs) {
    return { state: 'failed' };
  }
  return { state: 'pending', nextAttemptAt: next };
}

export interface EndpointHealth {
  consecutiveFailures: number;
  failingSince: Date | null;
}

/**
 * The endpoint's health after an attempt, and the reason to disable it when its failures
 * are sustained (enough of them, over long enough); null reason: keep it on.
 */
export function endpointAfterAttempt(
  health: EndpointHealth,
  result: AttemptResult,
  now: Date,
  policy: RetryPolicy,
): EndpointHealth & { disableReason: string | null } {
  if (result.ok) return { consecutiveFailures: 0, failingSince: null, disableReason: null };
  const consecutiveFailures = health.consecutiveFailures + 1;
  const failingSince = health.failingSince ?? now;
  const sustained =
    consecutiveFailures >= policy.disableAfterFailures &&
    now.getTime() - failingSince.getTime() >= policy.disableAfterMs;
  const last = result.error ?? `HTTP ${result.status}`;
  return {
    consecutiveFailures,
    failingSince,
    disableReason: sustained
      ? `disabled after ${consecutiveFailures} failed attempts in a row since ` +
        `${failingSince.toISOString()}; last: ${last}`
      : null,
  };
}
