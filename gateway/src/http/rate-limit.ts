// Launches per user: a token bucket per user, in this process's memory. Each replica
// counts on its own, so N replicas allow up to N times the rate; the control plane's quotas
// are the hard limit, this only keeps one user from hammering admission.

export interface Bucket {
  tokens: number;
  /** when `tokens` was computed (ms) */
  at: number;
}

export interface BucketPolicy {
  capacity: number;
  /** tokens regained per millisecond */
  refillPerMs: number;
}

export type Take =
  | { allowed: true; bucket: Bucket }
  | { allowed: false; bucket: Bucket; retryAfterMs: number };

/** Takes one token from `bucket` (a full one when undefined) at time `now`. */
export function takeToken(bucket: Bucket | undefined, now: number, policy: BucketPolicy): Take {
  const elapsed = bucket ? Math.max(0, now - bucket.at) : 0;
  const tokens = bucket
    ? Math.min(policy.capacity, bucket.tokens + elapsed * policy.refillPerMs)
    : policy.capacity;
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, at: now } };
  return {
    allowed: false,
    bucket: { tokens, at: now },
    retryAfterMs: Math.ceil((1 - tokens) / policy.refillPerMs),
  };
}

/** `perMinute` launches a minute, and as many at once after a quiet minute. */
export const perMinute = (perMinute: number): BucketPolicy => ({
  capacity: perMinute,
  refillPerMs: perMinute / 60_000,
});

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly policy: BucketPolicy;
  private readonly maxKeys: number;

  constructor(policy: BucketPolicy, opts: { maxKeys?: number } = {}) {
    this.policy = policy;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  take(key: string, now = Date.now()): Take {
    const result = takeToken(this.buckets.get(key), now, this.policy);
    this.buckets.delete(key); // re-inserted last: the Map stays in least-recently-used order
    this.buckets.set(key, result.bucket);
    if (this.buckets.size > this.maxKeys) this.prune(now);
    return result;
  }

  /** Forgets buckets that have refilled (they mean the same as no bucket). */
  private prune(now: number) {
    for (const [key, bucket] of this.buckets) {
      const full = bucket.tokens + (now - bucket.at) * this.policy.refillPerMs;
      if (full >= this.policy.capacity) this.buckets.delete(key);
    }
    // still too many active users: drop the least recently seen
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}
