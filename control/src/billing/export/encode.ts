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
import { COLUMN_NAMES, EXPORT_COLUMNS, type ExportRow, PARQUET_SCHEMA } from './columns.ts';
import type { ReadAs } from './read.ts';

export const FORMATS = ['csv', 'jsonl', 'parquet'] as const;
export type Format = (typeof FORMATS)[number];

export const CONTENT_TYPES: Record<Format, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
};

export interface Encoder {
  /** how it wants values read */
  readAs: ReadAs;
  /** bytes for this batch (possibly none yet) */
  push(rows: ExportRow[]): Uint8Array[];
  /** the rest, once every batch was pushed */
  end(): Uint8Array[];
}

const utf8 = new TextEncoder();

const INTEGERS = EXPORT_COLUMNS.flatMap((c, i) =>
  c.kind === 'int64' || c.kind === 'int32' ? [i] : [],
);

/**
 * CSV options: RFC 4180 with CRLF, and a lone CR or LF quoted too (by default csv-stringify
 * quotes only CRLF once that is the record delimiter; readers end a record at a bare LF).
 */
export const CSV_OPTIONS = { record_delimiter: 'windows', quote_record_delimiter: true } as const;

/**
 * CSV from rows, by csv-stringify. The export's CSV is written by the database's COPY
 * instead (copy-csv.ts), several times faster; this one is the reference it is tested
 * against, byte for byte.
 */
function csvEncoder(): Encoder {
  let header = true;
  const write = (rows: ExportRow[]) => {
    const text = stringify(rows, { ...CSV_OPTIONS, header, columns: COLUMN_NAMES });
    header = false;
    return text ? [utf8.encode(text)] : [];
  };
  return {
    readAs: 'text',
    push: write,
    // an export of no records is still a CSV file: its header
    end: () => (header ? write([]) : []),
  };
}

function jsonlEncoder(): Encoder {
  const line = (row: ExportRow) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < COLUMN_NAMES.length; i++) out[COLUMN_NAMES[i] as string] = row[i];
    for (const i of INTEGERS) out[COLUMN_NAMES[i] as string] = Number(row[i]);
    return JSON.stringify(out);
  };
  return {
    readAs: 'text',
    push: (rows) => (rows.length ? [utf8.encode(`${rows.map(line).join('\n')}\n`)] : []),
    end: () => [],
  };
}

/** rows per Parquet row group: large enough to compress well, small enough for memory */
export const ROW_GROUP_ROWS = 10_000;

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

/** A column's text as read (`numbers`) → the value hyparquet-writer takes for its Parquet type. */
const PARQUET_VALUE: Record<string, (text: string) => unknown> = {
  int64: (v) => BigInt(v),
  int32: (v) => Number(v),
  timestamp: (v) => BigInt(v),
  decimal3: (v) => BigInt(v),
  decimal6: (v) => BigInt(v),
  string: (v) => v,
};

/**
 * Parquet, one row group per ROW_GROUP_ROWS records: each record's values go straight into
 * one array per column (what hyparquet-writer encodes), typed as they arrive, so no record
 * outlives its batch and the group is written as soon as it is full.
 */
function parquetEncoder(): Encoder {
  const writer = new ChunkWriter();
  const pw = new ParquetWriter({
    writer,
    schema: PARQUET_SCHEMA,
    createdBy: 'floe usage export',
  });
  const convert = EXPORT_COLUMNS.map((c) => PARQUET_VALUE[c.kind] as (text: string) => unknown);
  let columns: unknown[][] = EXPORT_COLUMNS.map(() => []);
  let count = 0;
  const flushGroup = () => {
    if (count === 0) return;
    const data = columns;
    columns = EXPORT_COLUMNS.map(() => []);
    pw.write({
      columnData: EXPORT_COLUMNS.map((c, i) => ({
        name: c.name,
        data: data[i] as unknown[],
        // min/max of ids, times and amounts let readers skip row groups; of strings
        // (UUIDs, emails) they would cost a UTF-8 comparison of every value, for little
        statistics: c.kind !== 'string',
      })),
      rowGroupSize: count,
    });
    count = 0;
  };
  const drain = () => writer.chunks.splice(0, writer.chunks.length);
  return {
    readAs: 'numbers',
    push(rows) {
      for (const row of rows) {
        for (let i = 0; i < row.length; i++) {
          const v = row[i];
          (columns[i] as unknown[]).push(
            v === null ? null : (convert[i] as (t: string) => unknown)(v as string),
          );
        }
        if (++count >= ROW_GROUP_ROWS) flushGroup();
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

export function encoder(format: Format): Encoder {
  if (format === 'csv') return csvEncoder();
  if (format === 'jsonl') return jsonlEncoder();
  return parquetEncoder();
}
