/**
 * A reader of PostgreSQL's binary COPY format (`COPY … TO … WITH (FORMAT binary)`: a
 * signature and header, then per record a 16-bit field count and each field as a 32-bit
 * length, -1 for NULL, and its bytes; a count of -1 ends it), fed chunks as they come and
 * writing each record's fields straight into a ColumnBatch. Several COPYs may follow one
 * another in the stream (one per part, or per batch on PGlite): a header follows each end.
 */
import { type ColumnBatch, Layout } from './column-batch.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** the signature, the flags (32 bits) and the header extension's length (32 bits) */
const HEADER_BYTES = SIGNATURE.length + 8;

export class BinaryCopyReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private header = true;
  /**
   * where the end of one chunk and the start of the next are joined when a record spans
   * them (nearly every chunk): reused, so that no chunk costs a new buffer
   */
  private joined: Buffer = Buffer.alloc(0);
  /** whether `buf` is (a view of) `joined` */
  private inJoined = false;

  /** the next chunk of the stream */
  feed(chunk: Buffer) {
    const rest = this.buf.length - this.pos;
    if (rest === 0) {
      this.buf = chunk;
      this.pos = 0;
      this.inJoined = false;
      return;
    }
    const size = rest + chunk.length;
    if (this.joined.length < size) {
      const joined = Buffer.allocUnsafeSlow(Math.max(size, 2 * this.joined.length));
      this.buf.copy(joined, 0, this.pos);
      this.joined = joined;
    } else if (this.inJoined) {
      this.joined.copyWithin(0, this.pos, this.buf.length);
    } else {
      this.buf.copy(this.joined, 0, this.pos);
    }
    chunk.copy(this.joined, rest);
    this.buf = this.joined.subarray(0, size);
    this.pos = 0;
    this.inJoined = true;
  }

  /** whether the stream stopped between two COPYs, not inside one (else it was cut short) */
  get complete(): boolean {
    return this.header && this.pos === this.buf.length;
  }

  /**
   * Records from what was fed, into the batch until it is full or the bytes fed end inside
   * a record (the rest waits for the next chunk). True when the batch is full.
   */
  fill(batch: ColumnBatch): boolean {
    const b = this.buf;
    const end = b.length;
    const fields = batch.columns.length;
    let p = this.pos;
    while (!batch.full) {
      if (this.header) {
        if (end - p < HEADER_BYTES) break;
        if (b.compare(SIGNATURE, 0, SIGNATURE.length, p, p + SIGNATURE.length) !== 0) {
          throw new Error('binary COPY: no PGCOPY signature');
        }
        const extension = b.readUInt32BE(p + SIGNATURE.length + 4);
        if (end - p < HEADER_BYTES + extension) break;
        p += HEADER_BYTES + extension;
        this.header = false;
        continue;
      }
      if (end - p < 2) break;
      const count = b.readInt16BE(p);
      if (count === -1) {
        p += 2;
        this.header = true;
        continue;
      }
      if (count !== fields) throw new Error(`binary COPY: ${count} fields, not ${fields}`);
      // the whole record first, so that a record is never half written into the batch
      let q = p + 2;
      for (let f = 0; f < fields && q <= end; f++) {
        if (end - q < 4) {
          q = end + 1;
          break;
        }
        const len = int32(b, q);
        q += 4 + Math.max(len, 0);
      }
      if (q > end) break;
      record(b, p + 2, batch);
      p = q;
    }
    this.pos = p;
    return batch.full;
  }
}

/** a big-endian signed 32-bit integer (Buffer's readInt32BE checks bounds on each call) */
const int32 = (b: Buffer, p: number) =>
  ((b[p] as number) << 24) |
  ((b[p + 1] as number) << 16) |
  ((b[p + 2] as number) << 8) |
  (b[p + 3] as number);

const uint16 = (b: Buffer, p: number) => ((b[p] as number) << 8) | (b[p + 1] as number);

const TWO_32 = 2 ** 32;
/** 2000-01-01T00:00:00Z, PostgreSQL's epoch, in milliseconds since 1970's */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** a safe integer (a double) as 8 little-endian bytes of two's complement */
function putInt64(v: Uint8Array, at: number, x: number) {
  const hi = Math.floor(x / TWO_32);
  const lo = x - hi * TWO_32;
  v[at] = lo & 0xff;
  v[at + 1] = (lo >>> 8) & 0xff;
  v[at + 2] = (lo >>> 16) & 0xff;
  v[at + 3] = lo >>> 24;
  v[at + 4] = hi & 0xff;
  v[at + 5] = (hi >> 8) & 0xff;
  v[at + 6] = (hi >> 16) & 0xff;
  v[at + 7] = (hi >> 24) & 0xff;
}

/** a bigint as 8 little-endian bytes of two's complement */
function putBigInt64(v: Uint8Array, at: number, x: bigint) {
  let u = BigInt.asUintN(64, x);
  for (let k = 0; k < 8; k++, u >>= 8n) v[at + k] = Number(u & 0xffn);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX_HI = HEX.map((h) => h.charCodeAt(0));
const HEX_LO = HEX.map((h) => h.charCodeAt(1));
const DASH = 45;

/** a uuid's 16 bytes at p as its 36 characters (8-4-4-4-12 lowercase hex) at `at` */
function putUuid(b: Buffer, p: number, out: Uint8Array, at: number) {
  for (let k = 0; k < 16; k++) {
    if (k === 4 || k === 6 || k === 8 || k === 10) out[at++] = DASH;
    const byte = b[p + k] as number;
    out[at++] = HEX_HI[byte] as number;
    out[at++] = HEX_LO[byte] as number;
  }
}

/**
 * A numeric's binary form at p (digit count, weight, sign, display scale, then base-10000
 * digits, the first weighing 10000^weight) as the integer of its value times 10^scale,
 * written as a 128-bit little-endian integer. Exact: doubles while the integers are safe,
 * else bigints. The column has this scale, so the division at the end leaves no remainder.
 */
function putNumeric(b: Buffer, p: number, scale: number, v: Uint8Array, at: number, name: string) {
  const ndigits = uint16(b, p);
  const weight = (uint16(b, p + 2) << 16) >> 16;
  const sign = uint16(b, p + 4);
  if (sign !== 0 && sign !== 0x4000) throw new Error(`binary COPY: ${name} is not a number`);
  // the digits read as one integer n: the value is n × 10^(4 × (weight + 1 − ndigits))
  const exponent = scale + 4 * (weight + 1 - ndigits);
  let n = 0;
  for (let i = 0; i < ndigits && i < 3; i++) n = n * 10000 + uint16(b, p + 8 + 2 * i);
  let x = exponent >= 0 ? n * (POW10[exponent] ?? Infinity) : n / (POW10[-exponent] ?? Infinity);
  if (ndigits <= 3 && Number.isSafeInteger(x)) {
    if (sign === 0x4000) x = -x;
    putInt64(v, at, x);
    const fill = x < 0 ? 0xff : 0;
    for (let k = 8; k < 16; k++) v[at + k] = fill;
    return;
  }
  let big = 0n;
  for (let i = 0; i < ndigits; i++) big = big * 10000n + BigInt(uint16(b, p + 8 + 2 * i));
  big = exponent >= 0 ? big * 10n ** BigInt(exponent) : big / 10n ** BigInt(-exponent);
  if (sign === 0x4000) big = -big;
  putBigInt64(v, at, big);
  putBigInt64(v, at + 8, big >> 64n);
}

/** One complete record at `p` (its first field's length) into the batch's next row. */
function record(b: Buffer, p: number, batch: ColumnBatch) {
  const r = batch.rows;
  for (const c of batch.columns) {
    const len = int32(b, p);
    p += 4;
    if (len === -1) {
      if (!c.nullable) throw new Error(`binary COPY: ${c.column.name} is null`);
      c.nulls++;
      if (c.offsets.length > 0) c.offsets[r + 1] = c.offsets[r] as number;
      continue;
    }
    if (c.nullable) c.validity[r >> 3] = (c.validity[r >> 3] as number) | (1 << (r & 7));
    const v = c.values;
    switch (c.layout) {
      case Layout.Utf8: {
        const at = c.offsets[r] as number;
        const out = at + len > v.length ? c.grow(at, len) : v;
        if (len < 64) for (let k = 0; k < len; k++) out[at + k] = b[p + k] as number;
        else b.copy(out, at, p, p + len);
        c.offsets[r + 1] = at + len;
        break;
      }
      case Layout.Uuid: {
        if (len !== 16) throw new Error(`binary COPY: ${c.column.name} is not a uuid`);
        const at = c.offsets[r] as number;
        putUuid(b, p, at + 36 > v.length ? c.grow(at, 36) : v, at);
        c.offsets[r + 1] = at + 36;
        break;
      }
      case Layout.Int32: {
        if (len !== 4) throw new Error(`binary COPY: ${c.column.name} is not an int4`);
        const at = r * 4;
        v[at] = b[p + 3] as number;
        v[at + 1] = b[p + 2] as number;
        v[at + 2] = b[p + 1] as number;
        v[at + 3] = b[p] as number;
        break;
      }
      case Layout.Int64: {
        if (len !== 8) throw new Error(`binary COPY: ${c.column.name} is not an int8`);
        const at = r * 8;
        for (let k = 0; k < 8; k++) v[at + k] = b[p + 7 - k] as number;
        break;
      }
      case Layout.Timestamp: {
        if (len !== 8) throw new Error(`binary COPY: ${c.column.name} is not a timestamptz`);
        // microseconds since 2000: exact in a double for ±285 years around it
        const us = int32(b, p) * TWO_32 + (int32(b, p + 4) >>> 0);
        putInt64(v, r * 8, Math.floor(us / 1000) + PG_EPOCH_MS);
        break;
      }
      case Layout.Numeric:
        putNumeric(b, p, c.scale, v, r * 16, c.column.name);
        break;
    }
    p += len;
  }
  batch.rows = r + 1;
}
