/**
 * A Parquet row group's worth of export records, held column by column in typed arrays
 * (Arrow's own layout: values, UTF-8 bytes with offsets, validity bits), filled straight from
 * PostgreSQL's binary COPY (binary-copy.ts) and handed on as an Apache Arrow record batch.
 * No record and no value becomes a JavaScript object: what the Parquet export of millions of
 * records spent most of its time on before (garbage collection, a string per field). The
 * arrays are reused for every batch of an export.
 */
import {
  type DataType,
  Decimal,
  Field,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
} from 'apache-arrow';
import { type ColumnKind, EXPORT_COLUMNS, type ExportColumn } from './columns.ts';

/** Arrow type of each kind; Parquet's follows (DECIMAL(18, s) and TIMESTAMP(MILLIS) on INT64). */
const ARROW_TYPES: Record<ColumnKind, () => DataType> = {
  int64: () => new Int64(),
  int32: () => new Int32(),
  string: () => new Utf8(),
  uuid: () => new Utf8(),
  timestamp: () => new TimestampMillisecond('UTC'),
  decimal3: () => new Decimal(3, 18, 128),
  decimal6: () => new Decimal(6, 18, 128),
};

export const ARROW_SCHEMA = new Schema(
  EXPORT_COLUMNS.map((c) => new Field(c.name, ARROW_TYPES[c.kind](), c.nullable ?? false)),
);

/**
 * How a column's values come in binary COPY (PostgreSQL's own binary forms of the column's
 * type: parquet.ts's query casts nothing) and how they are kept, in Arrow's layout.
 */
export const Layout = {
  /** text: UTF-8 bytes, kept with offsets */
  Utf8: 0,
  /** uuid: 16 bytes, kept as its 36 characters of text, like Utf8 */
  Uuid: 1,
  /** int4, big-endian → little-endian */
  Int32: 2,
  /** int8, big-endian → little-endian */
  Int64: 3,
  /** timestamptz: microseconds since 2000 → milliseconds since 1970, 64-bit little-endian */
  Timestamp: 4,
  /** numeric: base-10000 digits → the value times 10^scale, a 128-bit little-endian integer */
  Numeric: 5,
} as const;
export type Layout = (typeof Layout)[keyof typeof Layout];

const LAYOUTS: Record<ColumnKind, Layout> = {
  int64: Layout.Int64,
  int32: Layout.Int32,
  string: Layout.Utf8,
  uuid: Layout.Uuid,
  timestamp: Layout.Timestamp,
  decimal3: Layout.Numeric,
  decimal6: Layout.Numeric,
};

const SCALES: Partial<Record<ColumnKind, number>> = { decimal3: 3, decimal6: 6 };

/** bytes per value kept (0: variable, with offsets) */
const WIDTHS: Record<Layout, number> = {
  [Layout.Utf8]: 0,
  [Layout.Uuid]: 0,
  [Layout.Int32]: 4,
  [Layout.Int64]: 8,
  [Layout.Timestamp]: 8,
  [Layout.Numeric]: 16,
};

/** One column of the batch. */
export class ColumnData {
  readonly layout: Layout;
  readonly nullable: boolean;
  /** Numeric: the column's scale (decimal places) */
  readonly scale: number;
  /** fixed-width values, or UTF-8 bytes of strings */
  values: Uint8Array;
  /** strings: where each value starts in `values` (capacity + 1 entries) */
  readonly offsets: Int32Array;
  /** nullable columns: a bit per record, set when it is not null */
  readonly validity: Uint8Array;
  nulls = 0;
  readonly column: ExportColumn;

  constructor(column: ExportColumn, capacity: number) {
    this.column = column;
    this.layout = LAYOUTS[column.kind];
    this.nullable = column.nullable ?? false;
    this.scale = SCALES[column.kind] ?? 0;
    const width = WIDTHS[this.layout];
    // text: room for 16 bytes a value at first, grown by doubling as needed; UUIDs are 36
    const bytes = width > 0 ? width : this.layout === Layout.Uuid ? 36 : 16;
    this.values = new Uint8Array(capacity * bytes);
    this.offsets = new Int32Array(width === 0 ? capacity + 1 : 0);
    this.validity = new Uint8Array(this.nullable ? (capacity + 7) >> 3 : 0);
  }

  /** room for `more` string bytes after `used` */
  grow(used: number, more: number): Uint8Array {
    let size = this.values.length * 2;
    while (size < used + more) size *= 2;
    const values = new Uint8Array(size);
    values.set(this.values.subarray(0, used));
    this.values = values;
    return values;
  }

  reset() {
    this.nulls = 0;
    this.validity.fill(0);
  }

  /** Arrow data of the first `rows` values (views of these arrays, not copies) */
  arrow(type: DataType, rows: number) {
    const nullBitmap = this.nulls > 0 ? this.validity.subarray(0, (rows + 7) >> 3) : undefined;
    const common = { length: rows, nullCount: this.nulls, nullBitmap };
    const bytes = this.values.buffer;
    switch (this.layout) {
      case Layout.Utf8:
      case Layout.Uuid: {
        const valueOffsets = this.offsets.subarray(0, rows + 1);
        const data = this.values.subarray(0, valueOffsets[rows]);
        return makeData({ type: type as Utf8, ...common, valueOffsets, data });
      }
      case Layout.Int32:
        return makeData({ type: type as Int32, ...common, data: new Int32Array(bytes, 0, rows) });
      case Layout.Int64:
      case Layout.Timestamp:
        return makeData({
          type: type as Int64,
          ...common,
          data: new BigInt64Array(bytes, 0, rows),
        });
      case Layout.Numeric:
        return makeData({
          type: type as Decimal,
          ...common,
          data: new Uint32Array(bytes, 0, rows * 4),
        });
    }
  }
}

/** Up to `capacity` records, column by column. */
export class ColumnBatch {
  readonly columns: ColumnData[];
  readonly capacity: number;
  rows = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.columns = EXPORT_COLUMNS.map((c) => new ColumnData(c, capacity));
  }

  get full() {
    return this.rows >= this.capacity;
  }

  reset() {
    this.rows = 0;
    for (const c of this.columns) c.reset();
  }

  /** The records so far as an Arrow record batch: views of this batch's arrays, valid until reset. */
  toArrow(): RecordBatch {
    const children = this.columns.map((c, i) =>
      c.arrow((ARROW_SCHEMA.fields[i] as Field).type, this.rows),
    );
    const struct = makeData({
      type: new Struct(ARROW_SCHEMA.fields),
      length: this.rows,
      nullCount: 0,
      children,
    });
    return new RecordBatch(ARROW_SCHEMA, struct);
  }
}
