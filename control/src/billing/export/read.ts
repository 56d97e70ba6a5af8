/**
 * Usage records read for an export in batches, by keyset (record id within a period), so
 * memory stays flat however many there are: the same on PostgreSQL and PGlite.
 */
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/connect.ts';
import type { ExportRow } from './columns.ts';

export const BATCH_ROWS = 2_000;

/** One period of one tenant to export, optionally only the slices starting in [from, to). */
export interface ExportPart {
  tenantId: string;
  tenantSlug: string;
  periodId: string;
  label: string;
  start: Date;
  end: Date;
  /** labels of the tenant's periods by id, for adjustments */
  labels: Map<string, string>;
  from?: Date;
  to?: Date;
}

type RawRow = Omit<
  ExportRow,
  | 'record_id'
  | 'tenant_slug'
  | 'period'
  | 'period_start'
  | 'period_end'
  | 'adjusts_period'
  | 'slice_start'
  | 'slice_end'
> & {
  id: string | number;
  adjusts_period_id: string | null;
  slice_start: string | number;
  slice_end: string | number;
};

/** The rows of each part in turn, `BATCH_ROWS` at a time, up to the ids there were at the start. */
export async function* exportBatches(db: Db, parts: ExportPart[]): AsyncGenerator<ExportRow[]> {
  for (const part of parts) {
    // records an open period's refresh writes while this runs have higher ids: left out
    const [{ top } = { top: 0 }] = await queryRows<{ top: string | number | null }>(
      db,
      sql`select max(id) as top from usage_records where period_id = ${part.periodId}`,
    );
    let last = 0;
    const ceiling = Number(top ?? 0);
    while (last < ceiling) {
      const rows = await queryRows<RawRow>(
        db,
        sql`select id, kind, tenant_id, adjusts_period_id, session_id, user_id, user_email,
            app_id, app_slug, cluster_id, cluster_name, region, gpu_sku, gpu_count,
            (extract(epoch from slice_start) * 1000)::int8 as slice_start,
            (extract(epoch from slice_end) * 1000)::int8 as slice_end,
            session_seconds::text as session_seconds, gpu_seconds::text as gpu_seconds,
            currency, amount::text as amount
          from usage_records
          where period_id = ${part.periodId} and id > ${last} and id <= ${ceiling}
            ${part.from ? sql`and slice_start >= ${part.from.toISOString()}::timestamptz` : sql``}
            ${part.to ? sql`and slice_start < ${part.to.toISOString()}::timestamptz` : sql``}
          order by id limit ${BATCH_ROWS}`,
      );
      if (rows.length === 0) break;
      last = Number((rows.at(-1) as RawRow).id);
      yield rows.map((r) => ({
        record_id: Number(r.id),
        kind: r.kind,
        tenant_id: r.tenant_id,
        tenant_slug: part.tenantSlug,
        period: part.label,
        period_start: part.start.getTime(),
        period_end: part.end.getTime(),
        adjusts_period: r.adjusts_period_id ? (part.labels.get(r.adjusts_period_id) ?? null) : null,
        session_id: r.session_id,
        user_id: r.user_id,
        user_email: r.user_email,
        app_id: r.app_id,
        app_slug: r.app_slug,
        cluster_id: r.cluster_id,
        cluster_name: r.cluster_name,
        region: r.region,
        gpu_sku: r.gpu_sku,
        gpu_count: Number(r.gpu_count),
        slice_start: Number(r.slice_start),
        slice_end: Number(r.slice_end),
        session_seconds: r.session_seconds,
        gpu_seconds: r.gpu_seconds,
        currency: r.currency,
        amount: r.amount,
      }));
    }
  }
}

/** A byte stream of encoded batches; cancelling it stops the reads. */
export function exportStream(
  batches: AsyncGenerator<ExportRow[]>,
  encode: { push(rows: ExportRow[]): Uint8Array[]; end(): Uint8Array[] },
): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // pulls until something can be sent (a Parquet row group spans several batches)
      while (!done) {
        const next = await batches.next();
        const chunks = next.done ? encode.end() : encode.push(next.value);
        if (next.done) done = true;
        for (const c of chunks) controller.enqueue(c);
        if (chunks.length > 0) break;
      }
      if (done) controller.close();
    },
    async cancel() {
      await batches.return(undefined);
    },
  });
}
