// The Parquet export reads PostgreSQL's binary COPY straight into typed arrays: whatever the
// records (nulls, negative decimals, any UTF-8) and however the bytes are cut into chunks,
// with several COPYs one after another, the Arrow batches hold exactly the records sent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryCopyReader } from '../../src/billing/export/binary-copy.ts';
import { ColumnBatch } from '../../src/billing/export/column-batch.ts';
import { type ColumnKind, EXPORT_COLUMNS } from '../../src/billing/export/columns.ts';

type Value = bigint | number | string | null;

const utf8 = new TextEncoder();
const HEADER = Buffer.concat([
  Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), // flags, header extension length
]);
const TRAILER = Buffer.from([0xff, 0xff]);

const PG_EPOCH_MS = BigInt(Date.UTC(2000, 0, 1));

/** a numeric(18, scale)'s binary form: base-10000 digits around the decimal point */
function numeric(unscaled: bigint, scale: number): Buffer {
  const abs = unscaled < 0n ? -unscaled : unscaled;
  const text = abs.toString().padStart(scale + 1, '0');
  const whole = text.slice(0, text.length - scale);
  const fraction = text.slice(text.length - scale);
  const left = whole.padStart(Math.ceil(whole.length / 4) * 4, '0');
  const right = fraction.padEnd(Math.ceil(fraction.length / 4) * 4, '0');
  let groups = (left + right).match(/.{4}/g)?.map(Number) ?? [];
  let weight = left.length / 4 - 1;
  while (groups.length > 0 && groups[0] === 0) {
    groups = groups.slice(1);
    weight--;
  }
  while (groups.length > 0 && groups.at(-1) === 0) groups = groups.slice(0, -1);
  if (groups.length === 0) weight = 0;
  const out = Buffer.alloc(8 + 2 * groups.length);
  out.writeUInt16BE(groups.length, 0);
  out.writeInt16BE(weight, 2);
  out.writeUInt16BE(unscaled < 0n ? 0x4000 : 0, 4);
  out.writeUInt16BE(scale, 6);
  groups.forEach((g, i) => {
    out.writeUInt16BE(g, 8 + 2 * i);
  });
  return out;
}

/** one field as PostgreSQL's binary COPY sends a value of the column's type */
function field(kind: ColumnKind, v: Value): Buffer {
  if (v === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
  let body: Buffer;
  if (kind === 'string') body = Buffer.from(utf8.encode(v as string));
  else if (kind === 'uuid') body = Buffer.from((v as string).replaceAll('-', ''), 'hex');
  else if (kind === 'int32') {
    body = Buffer.alloc(4);
    body.writeInt32BE(v as number);
  } else if (kind === 'timestamp') {
    body = Buffer.alloc(8);
    body.writeBigInt64BE(((v as bigint) - PG_EPOCH_MS) * 1000n);
  } else if (kind === 'decimal3' || kind === 'decimal6') {
    body = numeric(v as bigint, kind === 'decimal3' ? 3 : 6);
  } else {
    body = Buffer.alloc(8);
    body.writeBigInt64BE(v as bigint);
  }
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function copyBytes(records: Value[][]): Buffer {
  const count = Buffer.alloc(2);
  count.writeInt16BE(EXPORT_COLUMNS.length);
  return Buffer.concat([
    HEADER,
    ...records.flatMap((r) => [
      count,
      ...EXPORT_COLUMNS.map((c, i) => field(c.kind, r[i] as Value)),
    ]),
    TRAILER,
  ]);
}

// numeric(18, s): at most 18 digits; small ones often (the common case, read as doubles)
const decimal = fc.oneof(
  fc.bigInt({ min: -(10n ** 18n) + 1n, max: 10n ** 18n - 1n }),
  fc.bigInt({ min: -(10n ** 9n), max: 10n ** 9n }),
  fc.constantFrom(0n, 1n, -1n, 10000n, 3600000n, 10n ** 15n, -(10n ** 17n)),
);
const VALUES: Record<ColumnKind, fc.Arbitrary<Value>> = {
  int64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  int32: fc.integer(),
  string: fc.string({ unit: fc.constantFrom('a', 'é', '😀', '"', '\n', '') }),
  uuid: fc.uuid(),
  // milliseconds since 1970, some 140 years either side of it
  timestamp: fc.bigInt({ min: -(2n ** 42n), max: 2n ** 42n }),
  decimal3: decimal,
  decimal6: decimal,
};
const record = fc.tuple(
  ...EXPORT_COLUMNS.map((c) => (c.nullable ? fc.option(VALUES[c.kind]) : VALUES[c.kind])),
);

/** the batch's records back out of its Arrow batch (decimals as their unscaled integer) */
function readBack(batch: ColumnBatch): Value[][] {
  const arrow = batch.toArrow();
  const columns = EXPORT_COLUMNS.map((c, i) => {
    const vector = arrow.getChildAt(i);
    if (!vector) throw new Error(`no column ${c.name}`);
    if (!c.kind.startsWith('decimal')) {
      return (r: number) => {
        const v = vector.get(r);
        return c.kind === 'timestamp' && v !== null ? BigInt(v) : v;
      };
    }
    // 128-bit little-endian integers: the low word, and a high word that must be its sign
    const values = vector.data[0]?.values as Uint32Array;
    const words = new BigInt64Array(values.buffer, values.byteOffset, values.length / 2);
    return (r: number) => {
      const low = words[2 * r] as bigint;
      expect(words[2 * r + 1]).toBe(low < 0n ? -1n : 0n);
      return low;
    };
  });
  return Array.from({ length: arrow.numRows }, (_, r) => columns.map((get) => get(r)));
}

describe('binary COPY into Arrow batches', () => {
  it('holds every record sent, for any records, chunking and batch size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(record, { maxLength: 5 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        (copies, cuts, capacity) => {
          const bytes = Buffer.concat(copies.map(copyBytes));
          const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const reader = new BinaryCopyReader();
          const batch = new ColumnBatch(capacity);
          const got: Value[][] = [];
          let from = 0;
          for (const to of [...at, bytes.length]) {
            reader.feed(bytes.subarray(from, to));
            from = to;
            while (reader.fill(batch)) {
              got.push(...readBack(batch));
              batch.reset();
            }
          }
          got.push(...readBack(batch));
          expect(reader.complete).toBe(true);
          expect(got).toEqual(copies.flat());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('knows a stream cut inside a COPY, and refuses what is not binary COPY', () => {
    const row = EXPORT_COLUMNS.map((c) =>
      c.kind === 'string'
        ? 'x'
        : c.kind === 'uuid'
          ? '00000000-0000-4000-8000-000000000000'
          : c.kind === 'int32'
            ? 1
            : 1n,
    );
    const bytes = copyBytes([row]);
    const reader = new BinaryCopyReader();
    const batch = new ColumnBatch(4);
    reader.feed(bytes.subarray(0, bytes.length - 2)); // the record, not the trailer
    reader.fill(batch);
    expect(batch.rows).toBe(1);
    expect(reader.complete).toBe(false);
    const csv = new BinaryCopyReader();
    csv.feed(Buffer.from('1,usage,00000000-0000-0000-0000-000000000000\n'));
    expect(() => csv.fill(batch)).toThrow(/PGCOPY signature/);
    const nulls = EXPORT_COLUMNS.map(() => null);
    const bad = new BinaryCopyReader();
    bad.feed(copyBytes([nulls]));
    expect(() => bad.fill(new ColumnBatch(4))).toThrow(/record_id is null/);
  });
});
