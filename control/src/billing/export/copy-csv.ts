/**
 * The CSV export, written by the database: `COPY (the export's query) TO STDOUT WITH (FORMAT
 * csv)` streamed through pg-copy-streams on PostgreSQL, COPY to its in-memory blob a batch
 * at a time on PGlite; its LF record ends made CRLF.
 *
 * Why not rows encoded here, as JSON Lines and Parquet are: reading rows (a string per
 * field, an array per row, then the CSV text) costs several times what PostgreSQL spends
 * writing the same CSV in C; this way the export runs at about COPY's own speed
 * (docs/benchmarks.md, "Billing exports"). The bytes are those csv-stringify writes with
 * CSV_OPTIONS (the rows' encoder in encode.ts): PostgreSQL quotes a field exactly when it holds a comma, a quote, CR or
 * LF, doubling its quotes, and writes NULL as an empty field; it would also quote an empty
 * string ("" tells it from NULL), so text columns are read through `nullif(…, '')`. A test
 * compares the two on the same awkward records, on both databases.
 */
import type { PGlite } from '@electric-sql/pglite';
import { stringify } from 'csv-stringify/sync';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { COLUMN_NAMES } from './columns.ts';
import { CSV_OPTIONS } from './encode.ts';
import type { ExportPart } from './read.ts';

const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * COPY of the part's records with ids in (after, upTo], to node-postgres's stream or to
 * PGlite's blob. COPY takes no parameters: the part's values are quoted as literals.
 */
export function copyCsvQuery(
  part: ExportPart,
  ids: { after: string; upTo: string },
  literal: (v: string) => string,
  to: 'stdout' | "'/dev/blob'" = 'stdout',
) {
  const text = (c: string) => `nullif(${c}, '')`;
  const iso = (c: string) => `to_char(${c} at time zone 'UTC', ${ISO_MS})`;
  const range = [
    part.from ? `and r.slice_start >= ${literal(part.from.toISOString())}::timestamptz` : '',
    part.to ? `and r.slice_start < ${literal(part.to.toISOString())}::timestamptz` : '',
  ].join(' ');
  return `copy (select r.id, ${text('r.kind')}, r.tenant_id, ${text(literal(part.tenantSlug))},
    ${text(literal(part.label))}, ${literal(part.start.toISOString())},
    ${literal(part.end.toISOString())}, ${text('a.label')}, r.session_id, r.user_id,
    ${text('r.user_email')}, r.app_id, ${text('r.app_slug')}, r.cluster_id,
    ${text('r.cluster_name')}, ${text('r.region')}, ${text('r.gpu_sku')}, r.gpu_count,
    ${iso('r.slice_start')}, ${iso('r.slice_end')}, r.session_seconds, r.gpu_seconds,
    ${text('r.currency')}, r.amount
  from usage_records r left join billing_periods a on a.id = r.adjusts_period_id
  where r.period_id = ${literal(part.periodId)}::uuid and r.id > ${literal(ids.after)}::int8
    and r.id <= ${literal(ids.upTo)}::int8 ${range}
  order by r.id) to ${to} with (format csv)`;
}

const SEND_BYTES = 256 * 1024;
const LF = 10;
const QUOTE = 34;

/**
 * LF → CRLF at the end of each record, across chunks; an LF inside a quoted field stays as
 * it is (so does csv-stringify's). Quotes toggle the state: a doubled quote toggles twice.
 */
export function crlfRecordEnds(): (chunk: Uint8Array) => Uint8Array {
  let quoted = false;
  return (chunk) => {
    const ends: number[] = [];
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
    if (ends.length === 0) return chunk;
    const out = new Uint8Array(chunk.length + ends.length);
    let from = 0;
    let at = 0;
    for (const end of ends) {
      out.set(chunk.subarray(from, end), at);
      at += end - from;
      out[at++] = 13; // CR
      out[at++] = LF;
      from = end + 1;
    }
    out.set(chunk.subarray(from), at);
    return out;
  };
}

const header = () => new TextEncoder().encode(stringify([COLUMN_NAMES], CSV_OPTIONS));

/** The CSV export of these parts, read from PostgreSQL on one connection of the pool. */
export function copyCsvStream(pool: pg.Pool, parts: ExportPart[]): ReadableStream<Uint8Array> {
  let client: pg.PoolClient | null = null;
  let copy: (AsyncIterator<Buffer> & { destroy?: () => void }) | null = null;
  let stream: ReturnType<typeof copyTo> | null = null;
  let next = 0;
  const crlf = crlfRecordEnds();
  const release = (broken: boolean) => {
    client?.release(broken);
    client = null;
  };
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      client = await pool.connect();
      controller.enqueue(header());
    },
    async pull(controller) {
      try {
        for (;;) {
          const c = client as pg.PoolClient;
          if (!copy) {
            const part = parts[next++];
            if (!part) {
              release(false);
              controller.close();
              return;
            }
            // records an open period's refresh writes while this runs have higher ids: left out
            const top = await c.query<{ top: string | null }>(
              'select max(id)::text as top from usage_records where period_id = $1',
              [part.periodId],
            );
            const ceiling = top.rows[0]?.top ?? '0';
            stream = c.query(
              copyTo(copyCsvQuery(part, { after: '0', upTo: ceiling }, (v) => c.escapeLiteral(v))),
            );
            copy = stream[Symbol.asyncIterator]();
          }
          // PostgreSQL sends COPY data in 8 kB messages, and socket reads come in whatever
          // size: they are sent on in pieces of at least SEND_BYTES (fewer writes, fewer
          // HTTP chunks)
          const pieces: Buffer[] = [];
          let size = 0;
          let chunk = await copy.next();
          while (!chunk.done) {
            pieces.push(chunk.value);
            size += chunk.value.length;
            if (size >= SEND_BYTES) break;
            chunk = await copy.next();
          }
          if (chunk.done) copy = null;
          if (size > 0) {
            controller.enqueue(
              crlf(pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, size)),
            );
            return;
          }
        }
      } catch (err) {
        release(true);
        throw err;
      }
    },
    cancel() {
      // the connection is in the middle of a COPY: it is closed rather than reused
      stream?.destroy();
      release(true);
    },
  });
}

/** Records per COPY on PGlite, whose COPY writes a blob in memory rather than a stream. */
export const PGLITE_COPY_ROWS = 20_000;

/** A literal with standard_conforming_strings on (PGlite's default, never changed here). */
const pgliteLiteral = (v: string) => `'${v.replaceAll("'", "''")}'`;

/**
 * The CSV export of these parts on PGlite: COPY to its in-memory blob, PGLITE_COPY_ROWS
 * records at a time (by keyset, so memory stays flat), each blob sent as it comes. PGlite
 * writes CSV in its WebAssembly build of PostgreSQL several times faster than its rows can
 * be read and encoded in JavaScript.
 */
export function pgliteCsvStream(client: PGlite, parts: ExportPart[]): ReadableStream<Uint8Array> {
  const crlf = crlfRecordEnds();
  let next = 0;
  let part: ExportPart | undefined;
  let after = '0';
  let ceiling = '0';
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(header());
    },
    async pull(controller) {
      for (;;) {
        if (!part) {
          part = parts[next++];
          if (!part) {
            controller.close();
            return;
          }
          // records an open period's refresh writes while this runs have higher ids: left out
          const top = await client.query<{ top: string | null }>(
            'select max(id)::text as top from usage_records where period_id = $1',
            [part.periodId],
          );
          ceiling = top.rows[0]?.top ?? '0';
          after = '0';
        }
        if (BigInt(after) >= BigInt(ceiling)) {
          part = undefined;
          continue;
        }
        // the id that ends this batch: the PGLITE_COPY_ROWS-th after `after`, or the ceiling
        const end = await client.query<{ id: string }>(
          `select id::text as id from usage_records
            where period_id = $1 and id > $2::int8 and id <= $3::int8
            order by id offset ${PGLITE_COPY_ROWS - 1} limit 1`,
          [part.periodId, after, ceiling],
        );
        const upTo = end.rows[0]?.id ?? ceiling;
        const copied = await client.query(
          copyCsvQuery(part, { after, upTo }, pgliteLiteral, "'/dev/blob'"),
        );
        after = upTo;
        const bytes = copied.blob ? new Uint8Array(await copied.blob.arrayBuffer()) : null;
        if (bytes && bytes.length > 0) {
          controller.enqueue(crlf(bytes));
          return;
        }
      }
    },
  });
}
