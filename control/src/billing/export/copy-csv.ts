/**
 * The CSV export, written by the database: `COPY (the export's query) TO … WITH (FORMAT
 * csv)` of each part (copy-out.ts: streamed on PostgreSQL, a batch at a time on PGlite), its
 * LF record ends made CRLF.
 *
 * Why not rows encoded here, as JSON Lines are: reading rows (a string per field, an array
 * per row, then the CSV text) costs several times what PostgreSQL spends writing the same
 * CSV in C; this way the export runs at about COPY's own speed (docs/benchmarks.md,
 * "Billing exports"). The bytes are those csv-stringify writes with CSV_OPTIONS (the rows'
 * encoder in encode.ts): PostgreSQL quotes a field exactly when it holds a comma, a quote, CR
 * or LF, doubling its quotes, and writes NULL as an empty field; it would also quote an empty
 * string ("" tells it from NULL), so text columns are read through `nullif(…, '')`. A test
 * compares the two on the same awkward records, on both databases.
 */
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../../db/connect.ts';
import { COLUMN_NAMES } from './columns.ts';
import { type CopyQuery, copyChunks, rangeSql } from './copy-out.ts';
import { CSV_OPTIONS } from './encode.ts';
import type { ExportPart } from './read.ts';

const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** COPY of the part's records with ids in (after, upTo] as CSV, the export's columns in order. */
export const copyCsvQuery: CopyQuery = (part, ids, literal, to) => {
  const text = (c: string) => `nullif(${c}, '')`;
  const iso = (c: string) => `to_char(${c} at time zone 'UTC', ${ISO_MS})`;
  return `copy (select r.id, ${text('r.kind')}, r.tenant_id, ${text(literal(part.tenantSlug))},
    ${text(literal(part.label))}, ${literal(part.start.toISOString())},
    ${literal(part.end.toISOString())}, ${text('a.label')}, r.session_id, r.user_id,
    ${text('r.user_email')}, r.app_id, ${text('r.app_slug')}, ${text('r.app_class')},
    r.cluster_id, ${text('r.cluster_name')}, ${text('r.region')}, ${text('r.gpu_sku')},
    r.gpu_count, ${iso('r.slice_start')}, ${iso('r.slice_end')}, r.session_seconds,
    r.gpu_seconds, ${text('r.currency')}, r.amount
  from usage_records r left join billing_periods a on a.id = r.adjusts_period_id
  where r.period_id = ${literal(part.periodId)}::uuid and r.id > ${literal(ids.after)}::int8
    and r.id <= ${literal(ids.upTo)}::int8 ${rangeSql(part, literal)}
  order by r.id) to ${to} with (format csv)`;
};

const SEND_BYTES = 256 * 1024;
const LF = 10;
const QUOTE = 34;

/**
 * LF → CRLF at the end of each record, across chunks; an LF inside a quoted field stays as
 * it is (so does csv-stringify's). Quotes toggle the state: a doubled quote toggles twice.
 * Each call takes the chunks of one piece and writes them into one new buffer (the piece is
 * not joined first: one piece-sized allocation rather than two, garbage that waits for V8).
 */
export function crlfRecordEnds(): (chunks: readonly Uint8Array[]) => Uint8Array {
  let quoted = false;
  /** the record ends in `chunk`, in order, given the state before it */
  const endsOf = (chunk: Uint8Array, ends: number[]) => {
    let quote = chunk.indexOf(QUOTE);
    let lf = chunk.indexOf(LF);
    while (lf !== -1) {
      if (quote !== -1 && quote < lf) {
        quoted = !quoted;
        quote = chunk.indexOf(QUOTE, quote + 1);
        continue;
      }
      if (!quoted) ends.push(lf);
      lf = chunk.indexOf(LF, lf + 1);
    }
    for (; quote !== -1; quote = chunk.indexOf(QUOTE, quote + 1)) quoted = !quoted;
  };
  return (chunks) => {
    const ends = chunks.map((chunk) => {
      const found: number[] = [];
      endsOf(chunk, found);
      return found;
    });
    let size = 0;
    for (let i = 0; i < chunks.length; i++)
      size += (chunks[i] as Uint8Array).length + (ends[i] as number[]).length;
    if (chunks.length === 1 && size === (chunks[0] as Uint8Array).length)
      return chunks[0] as Uint8Array;
    const out = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i] as Uint8Array;
      let from = 0;
      for (const end of ends[i] as number[]) {
        out.set(chunk.subarray(from, end), at);
        at += end - from;
        out[at++] = 13; // CR
        out[at++] = LF;
        from = end + 1;
      }
      out.set(chunk.subarray(from), at);
      at += chunk.length - from;
    }
    return out;
  };
}

const header = () => new TextEncoder().encode(stringify([COLUMN_NAMES], CSV_OPTIONS));

/**
 * The CSV export of these parts: the header row, then COPY's output with CRLF record ends.
 * PostgreSQL sends COPY data in 8 kB messages and socket reads come in whatever size: they
 * are sent on in pieces of at least SEND_BYTES (fewer writes, fewer HTTP chunks).
 */
export function copyCsvStream(db: Db, parts: ExportPart[]): ReadableStream<Uint8Array> {
  const chunks = copyChunks(db, parts, copyCsvQuery);
  const crlf = crlfRecordEnds();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(header());
    },
    async pull(controller) {
      const pieces: Buffer[] = [];
      let size = 0;
      let next = await chunks.next();
      while (!next.done) {
        pieces.push(next.value);
        size += next.value.length;
        if (size >= SEND_BYTES) break;
        next = await chunks.next();
      }
      if (size > 0) controller.enqueue(crlf(pieces));
      if (next.done) controller.close();
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}
