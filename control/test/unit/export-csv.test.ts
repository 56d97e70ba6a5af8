// COPY writes CSV records ended by LF; the export turns each record end into CRLF, across
// chunk boundaries, and leaves an LF inside a quoted field alone: the result is csv-stringify's
// CRLF text of the same records, however the bytes are cut.
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crlfRecordEnds } from '../../src/billing/export/copy-csv.ts';
import { CSV_OPTIONS } from '../../src/billing/export/encode.ts';

const utf8 = new TextEncoder();

describe('CRLF record ends of COPY output', () => {
  it('gives csv-stringify’s CRLF text for any records, chunking and pieces', () => {
    const field = fc.option(
      fc.string({ unit: fc.constantFrom('a', ',', '"', '\r', '\n', ' ', 'é', '😀') }),
      { nil: null },
    );
    const records = fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { maxLength: 8 });
    fc.assert(
      fc.property(
        records,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 6 }),
        (rows, cuts, perPiece) => {
          const lf = utf8.encode(stringify(rows, { quote_record_delimiter: true }));
          const at = [...new Set(cuts.map((c) => c % (lf.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let from = 0;
          for (const to of [...at, lf.length]) {
            chunks.push(lf.subarray(from, to));
            from = to;
          }
          // the chunks handed over a few at a time, as the stream gathers them into pieces
          const crlf = crlfRecordEnds();
          const out: number[] = [];
          for (let i = 0, p = 0; i < chunks.length; p++) {
            const n = perPiece[p % Math.max(perPiece.length, 1)] ?? 1;
            out.push(...crlf(chunks.slice(i, i + n)));
            i += n;
          }
          expect(Buffer.from(out).toString('utf8')).toBe(stringify(rows, CSV_OPTIONS));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
