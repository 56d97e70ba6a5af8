import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/connect.ts';

export interface UsageRow {
  userId: string;
  appId: string;
  gpuSku: string | null;
  sessions: number;
  sessionSeconds: number;
  gpuSeconds: number;
}

/**
 * Usage per user, app and GPU SKU in [from, to), from the billable spans that
 * `floe_usage_spans` derives from the immutable event log (drizzle/0001_admission.sql):
 * a control-plane restart can neither lose nor double-count time.
 */
export async function usageByUserAndApp(
  db: Db,
  q: { tenantId: string; from: Date; to: Date; userId?: string },
): Promise<UsageRow[]> {
  const rows = await queryRows<Record<string, string | number | null>>(
    db,
    sql`
    select user_id, app_id, gpu_sku,
      count(distinct session_id)::int as sessions,
      coalesce(sum(seconds), 0)::float8 as session_seconds,
      coalesce(sum(seconds * gpu_count), 0)::float8 as gpu_seconds
    from floe_usage_spans(${q.tenantId}, ${q.from.toISOString()}::timestamptz, ${q.to.toISOString()}::timestamptz)
    ${q.userId ? sql`where user_id = ${q.userId}` : sql``}
    group by user_id, app_id, gpu_sku order by user_id, app_id, gpu_sku`,
  );
  return rows.map((r) => ({
    userId: r.user_id as string,
    appId: r.app_id as string,
    gpuSku: (r.gpu_sku as string | null) ?? null,
    sessions: Number(r.sessions),
    sessionSeconds: Number(r.session_seconds),
    gpuSeconds: Number(r.gpu_seconds),
  }));
}

export function startOfMonthUtc(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}
