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
        const len = b.readInt32BE(q);
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

/** One complete record at `p` (its first field's length) into the batch's next row. */
function record(b: Buffer, p: number, batch: ColumnBatch) {
  const r = batch.rows;
  for (const c of batch.columns) {
    const len = b.readInt32BE(p);
    p += 4;
    if (len === -1) {
      if (!c.nullable) throw new Error(`binary COPY: ${c.column.name} is null`);
      c.nulls++;
      if (c.layout === Layout.Utf8) c.offsets[r + 1] = c.offsets[r] as number;
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
      case Layout.Int32: {
        if (len !== 4) throw new Error(`binary COPY: ${c.column.name} is not an int4`);
        const at = r * 4;
        v[at] = b[p + 3] as number;
        v[at + 1] = b[p + 2] as number;
        v[at + 2] = b[p + 1] as number;
        v[at + 3] = b[p] as number;
        break;
      }
      case Layout.Int64:
      case Layout.Decimal: {
        if (len !== 8) throw new Error(`binary COPY: ${c.column.name} is not an int8`);
        const at = c.layout === Layout.Int64 ? r * 8 : r * 16;
        for (let k = 0; k < 8; k++) v[at + k] = b[p + 7 - k] as number;
        if (c.layout === Layout.Decimal) {
          // the upper 64 bits of the 128-bit integer: the sign's
          const sign = (b[p] as number) & 0x80 ? 0xff : 0;
          for (let k = 8; k < 16; k++) v[at + k] = sign;
        }
        break;
      }
    }
    p += len;
  }
  batch.rows = r + 1;
}
