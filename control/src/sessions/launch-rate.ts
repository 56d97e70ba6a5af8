/**
 * Launches per user, as a token bucket in PostgreSQL: one statement takes a token or refuses,
 * atomically, so any number of gateway and control-plane replicas allow a user the same rate.
 * Users signed in through a gateway are limited (a person clicking Launch); API keys are
 * automation, bounded by the quotas. The quotas stay the hard limit: this only keeps one user
 * from hammering admission.
 */
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/connect.ts';
import { ApiError } from '../http/errors.ts';

export interface LaunchRate {
  /** launches a minute, and as many at once after a quiet minute */
  perMinute: number;
}

/** Seconds until a bucket holding `tokens` has one again, at `perMinute` (at least 1). */
export function secondsUntilToken(tokens: number, perMinute: number): number {
  return Math.max(1, Math.ceil(((1 - tokens) * 60) / perMinute));
}

/** Takes one launch from `userId`'s bucket, or throws the 429 that says when to try again. */
export async function takeLaunch(db: Db, userId: string, rate: LaunchRate): Promise<void> {
  const capacity = rate.perMinute;
  const perSecond = rate.perMinute / 60;
  // the bucket refilled up to now, in the database's clock (one clock for every replica)
  const refilled = sql`least(${capacity}::float8,
    b.tokens + extract(epoch from (clock_timestamp() - b.at)) * ${perSecond}::float8)`;
  const [taken] = await queryRows<{ tokens: number }>(
    db,
    sql`insert into launch_buckets as b (user_id, tokens, at)
      values (${userId}, ${capacity - 1}::float8, clock_timestamp())
      on conflict (user_id) do update set tokens = ${refilled} - 1, at = clock_timestamp()
        where ${refilled} >= 1
      returning tokens`,
  );
  if (taken) return;
  const [left] = await queryRows<{ tokens: number }>(
    db,
    sql`select ${refilled} as tokens from launch_buckets b where b.user_id = ${userId}`,
  );
  const seconds = secondsUntilToken(Number(left?.tokens ?? 0), rate.perMinute);
  throw new ApiError(
    429,
    'rate_limited',
    `too many launches; try again in ${seconds} s`,
    {},
    { 'Retry-After': String(seconds) },
  );
}
