/**
 * Encoders from batches of export rows (read.ts) to bytes: JSON Lines, and CSV by
 * csv-stringify, the reference the COPY-written CSV export (copy-csv.ts) is tested against.
 * Each is fed one batch at a time and returns what can be sent now, so an export is never
 * held in memory whole. Parquet is written from PostgreSQL's binary COPY instead
 * (parquet.ts).
 */
import { stringify } from 'csv-stringify/sync';
import { COLUMN_NAMES, EXPORT_COLUMNS, type ExportRow } from './columns.ts';

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
    push: (rows) => (rows.length ? [utf8.encode(`${rows.map(line).join('\n')}\n`)] : []),
    end: () => [],
  };
}

export function encoder(format: 'csv' | 'jsonl'): Encoder {
  return format === 'csv' ? csvEncoder() : jsonlEncoder();
}
