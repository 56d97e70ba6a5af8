/**
 * Usage records read for an export in batches, by keyset (record id within a period), so
 * memory stays flat however many there are: the same on PostgreSQL and PGlite.
 */
import { sql } from 'drizzle-orm';
import { type Db, queryRows, queryTextRows } from '../../db/connect.ts';
import type { ExportRow } from './columns.ts';

/**
 * Rows per read. Larger batches cost fewer round trips; each is at most a few MB of text,
 * and the next one is already being read while this one is encoded.
 */
export const BATCH_ROWS = 5_000;

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

const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const time = (c: string) => `to_char(${c} at time zone 'UTC', ${ISO_MS})`;

/**
 * A usage record's own columns, as text (see ExportRow), in export order less the period's
 * (tenant_slug, period, period_start, period_end, adjusts_period), which are filled in here:
 * timestamps in ISO 8601 and decimals with all their places, made by the database (in C, in
 * its own process). Timestamps have millisecond precision in the table: none is lost.
 * (Each column is named after its cast, `id` too: the query orders by `usage_records.id`.)
 */
const RECORD_COLUMNS = `id::text, kind, tenant_id::text, adjusts_period_id::text,
  session_id::text, user_id::text, user_email, app_id::text, app_slug, app_class,
  cluster_id::text, cluster_name, region, gpu_sku, gpu_count::text, ${time('slice_start')},
  ${time('slice_end')}, session_seconds::text, gpu_seconds::text, currency, amount::text`;

/** The query of one batch: $1 period, $2 after this id, $3 up to this id, [$4 from, $5 to]. */
function batchQuery(part: ExportPart): string {
  let range = '';
  if (part.from) range += ' and slice_start >= $4::timestamptz';
  if (part.to) range += ` and slice_start < $${part.from ? 5 : 4}::timestamptz`;
  return `select ${RECORD_COLUMNS} from usage_records
    where period_id = $1 and id > $2::int8 and id <= $3::int8${range}
    order by usage_records.id limit ${BATCH_ROWS}`;
}

/** A record's text as read, with the period's columns, in export order. */
function exportRow(r: (string | null)[], part: ExportPart, start: string, end: string): ExportRow {
  const adjusts = r[3] ? (part.labels.get(r[3]) ?? null) : null;
  // biome-ignore format: one line per group of columns
  return [
    r[0] as string, r[1] as string, r[2] as string, part.tenantSlug, part.label, start, end,
    adjusts, r[4] as string, r[5] as string, r[6] as string, r[7] as string, r[8] as string,
    r[9] ?? null, r[10] ?? null, r[11] ?? null, r[12] ?? null, r[13] ?? null,
    r[14] as string, r[15] as string, r[16] as string, r[17] as string, r[18] as string,
    r[19] as string, r[20] as string,
  ];
}

/**
 * The rows of each part in turn, `BATCH_ROWS` at a time, up to the ids there were at the
 * start. Each batch is read by keyset (record id within a period), so memory stays flat
 * however many there are, on PostgreSQL and PGlite alike; rows come as arrays of text
 * (no object, no type parsing per row), and the next batch's query is sent before this
 * one is handed on, so that the database works while the caller encodes.
 */
export async function* exportBatches(db: Db, parts: ExportPart[]): AsyncGenerator<ExportRow[]> {
  for (const part of parts) {
    // records an open period's refresh writes while this runs have higher ids: left out
    const [{ top } = { top: 0 }] = await queryRows<{ top: string | number | null }>(
      db,
      sql`select max(id) as top from usage_records where period_id = ${part.periodId}`,
    );
    const ceiling = String(top ?? 0);
    const text = batchQuery(part);
    const range = [part.from?.toISOString(), part.to?.toISOString()].filter((v) => v);
    const read = (after: string) =>
      queryTextRows(db, text, [part.periodId, after, ceiling, ...range]);
    const start = part.start.toISOString();
    const end = part.end.toISOString();
    let next: Promise<(string | null)[][]> | null = read('0');
    try {
      while (next) {
        const rows = await next;
        next = null;
        if (rows.length === 0) break;
        if (rows.length === BATCH_ROWS) next = read((rows.at(-1) as string[])[0] as string);
        yield rows.map((r) => exportRow(r, part, start, end));
      }
    } finally {
      // a cancelled export: the read in flight still settles, its rows unused
      await next?.catch(() => {});
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
