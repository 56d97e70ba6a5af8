import { type SQL, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/connect.ts';

/** Rows of a raw query; node-postgres and PGlite both answer with `{ rows }`. */
async function rowsOf(db: Db | Tx, query: SQL): Promise<Record<string, unknown>[]> {
  const result = (await db.execute(query)) as unknown as { rows: Record<string, unknown>[] };
  return result.rows;
}

export interface UsageRow {
  userId: string;
  appId: string;
  gpuSku: string | null;
  sessions: number;
  sessionSeconds: number;
  gpuSeconds: number;
}

/**
 * Usage derived from session_events alone: a session is billed from each transition into
 * `running` until the transition that follows it (stopping, stopped or failed), or until
 * now while it still runs, clipped to [from, to). Because it is recomputed from the
 * immutable event log, a control-plane restart can neither lose nor double-count time.
 */
function spans(tenantId: string, from: Date, to: Date, userId?: string) {
  return sql`
    select s.user_id, s.app_id, s.gpu_sku, s.gpu_count, e.session_id,
      extract(epoch from least(coalesce(nxt.at, now()), ${to.toISOString()}::timestamptz)
        - greatest(e.at, ${from.toISOString()}::timestamptz))::float8 as seconds
    from session_events e
    join sessions s on s.id = e.session_id
    left join lateral (
      select n.at from session_events n
      where n.session_id = e.session_id and n.id > e.id
      order by n.id limit 1
    ) nxt on true
    where e.tenant_id = ${tenantId} and e.to_state = 'running'
      and e.at < ${to.toISOString()}::timestamptz
      and coalesce(nxt.at, now()) > ${from.toISOString()}::timestamptz
      ${userId ? sql`and s.user_id = ${userId}` : sql``}`;
}

export async function usageByUserAndApp(
  db: Db,
  q: { tenantId: string; from: Date; to: Date; userId?: string },
): Promise<UsageRow[]> {
  const result = await rowsOf(
    db,
    sql`
    with spans as (${spans(q.tenantId, q.from, q.to, q.userId)})
    select user_id, app_id, gpu_sku,
      count(distinct session_id)::int as sessions,
      coalesce(sum(greatest(seconds, 0)), 0)::float8 as session_seconds,
      coalesce(sum(greatest(seconds, 0) * gpu_count), 0)::float8 as gpu_seconds
    from spans group by user_id, app_id, gpu_sku order by user_id, app_id, gpu_sku`,
  );
  return result.map((r) => ({
    userId: r.user_id as string,
    appId: r.app_id as string,
    gpuSku: (r.gpu_sku as string | null) ?? null,
    sessions: Number(r.sessions),
    sessionSeconds: Number(r.session_seconds),
    gpuSeconds: Number(r.gpu_seconds),
  }));
}

const END_OF_TIME = new Date('9999-12-31T00:00:00Z');

/** GPU-seconds the tenant used from `from` until now, for the monthly GPU-hours quota. */
export async function gpuSecondsSince(tx: Tx, tenantId: string, from: Date): Promise<number> {
  const [row] = await rowsOf(
    tx,
    sql`
    with spans as (${spans(tenantId, from, END_OF_TIME)})
    select coalesce(sum(greatest(seconds, 0) * gpu_count), 0)::float8 as gpu_seconds from spans`,
  );
  return Number(row?.gpu_seconds ?? 0);
}

export function startOfMonthUtc(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}
