/**
 * Encoders from batches of export rows to bytes, one format each. Each is fed one batch at
 * a time and returns what can be sent now, so an export is never held in memory whole.
 *
 * Parquet is written by hyparquet-writer rather than @dsnp/parquetjs: it encodes column
 * arrays (no per-row record shredding, so several times faster on millions of rows), writes
 * DECIMAL and TIMESTAMP logical types from bigint and integer values exactly, has one small
 * dependency, and its ParquetWriter flushes after every row group, which is what streaming
 * needs. Its output is deterministic (no write time in the footer), so a closed period's
 * export is the same bytes every time.
 */
import { stringify } from 'csv-stringify/sync';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { parseDecimal } from '../decimal.ts';
import { COLUMN_NAMES, EXPORT_COLUMNS, type ExportRow, PARQUET_SCHEMA } from './columns.ts';

export const FORMATS = ['csv', 'jsonl', 'parquet'] as const;
export type Format = (typeof FORMATS)[number];

export const CONTENT_TYPES: Record<Format, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
};

export interface Encoder {
  /** bytes for this batch (possibly none yet) */
  push(rows: ExportRow[]): Uint8Array[];
  /** the rest, once every batch was pushed */
  end(): Uint8Array[];
}

const utf8 = new TextEncoder();
// the period's bounds repeat on every row: the last value of each column is kept
const isoCache = new Map<string, { ms: number; text: string }>();
function isoOf(column: string, ms: number): string {
  const last = isoCache.get(column);
  if (last?.ms === ms) return last.text;
  const text = new Date(ms).toISOString();
  isoCache.set(column, { ms, text });
  return text;
}
const TIMESTAMPS = new Set(EXPORT_COLUMNS.filter((c) => c.kind === 'timestamp').map((c) => c.name));

/** A row as CSV and JSON show it: timestamps in ISO 8601, decimals as strings. */
function plain(row: ExportRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of COLUMN_NAMES) {
    const v = row[name];
    out[name] = TIMESTAMPS.has(name) ? isoOf(name, v as number) : v;
  }
  return out;
}

function csvEncoder(): Encoder {
  let header = true;
  const write = (rows: ExportRow[]) => {
    const text = stringify(
      rows.map((r) =>
        COLUMN_NAMES.map((n) => (TIMESTAMPS.has(n) ? isoOf(n, r[n] as number) : r[n])),
      ),
      { header, columns: COLUMN_NAMES as string[], record_delimiter: 'windows' },
    );
    header = false;
    return text ? [utf8.encode(text)] : [];
  };
  return {
    push: write,
    // an export of no records is still a CSV file: its header
    end: () => (header ? write([]) : []),
  };
}

function jsonlEncoder(): Encoder {
  return {
    push: (rows) =>
      rows.length ? [utf8.encode(`${rows.map((r) => JSON.stringify(plain(r))).join('\n')}\n`)] : [],
    end: () => [],
  };
}

/** rows per Parquet row group: large enough to compress well, small enough for memory */
export const ROW_GROUP_ROWS = 20_000;

/** hyparquet-writer's ByteWriter, its bytes taken out after each row group and at the end. */
class ChunkWriter extends ByteWriter {
  readonly chunks: Uint8Array[] = [];
  constructor() {
    super(1 << 20);
  }
  private take() {
    if (this.index > 0) this.chunks.push(new Uint8Array(this.buffer.slice(0, this.index)));
    this.index = 0;
  }
  flush() {
    this.take();
  }
  override finish() {
    this.take();
  }
}

function parquetEncoder(): Encoder {
  const writer = new ChunkWriter();
  const pw = new ParquetWriter({
    writer,
    schema: PARQUET_SCHEMA,
    createdBy: 'floe usage export',
  });
  let pending: ExportRow[] = [];
  const flushGroup = () => {
    if (pending.length === 0) return;
    const rows = pending;
    pending = [];
    pw.write({
      columnData: EXPORT_COLUMNS.map((c) => ({
        name: c.name,
        data: rows.map((r) => parquetValue(c.kind, r[c.name])),
      })),
      rowGroupSize: rows.length,
    });
  };
  const drain = () => writer.chunks.splice(0, writer.chunks.length);
  return {
    push(rows) {
      for (const r of rows) {
        pending.push(r);
        if (pending.length >= ROW_GROUP_ROWS) flushGroup();
      }
      return drain();
    },
    end() {
      flushGroup();
      pw.finish();
      return drain();
    },
  };
}

function parquetValue(kind: string, v: unknown): unknown {
  if (v === null) return null;
  switch (kind) {
    case 'int64':
      return BigInt(v as number);
    case 'decimal3':
      return parseDecimal(v as string, 3);
    case 'decimal6':
      return parseDecimal(v as string, 6);
    default:
      return v;
  }
}

export function encoder(format: Format): Encoder {
  if (format === 'csv') return csvEncoder();
  if (format === 'jsonl') return jsonlEncoder();
  return parquetEncoder();
}
