// The export's CSV writer against csv-stringify, the reference the issue names: the same
// text for any fields, nulls included. `quote_record_delimiter`: a lone CR or LF is quoted
// too (csv-stringify quotes only CRLF once the record delimiter is CRLF, and readers such as
// Python's csv module would end the record at a bare LF).
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvField, csvRecords } from '../../src/billing/export/csv.ts';

const reference = (rows: (string | null)[][]) =>
  stringify(rows, { record_delimiter: 'windows', quote_record_delimiter: true });

describe('export CSV', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['lf\nonly', '"lf\nonly"'],
    ['', ''],
    [null, ''],
    [' spaced ', ' spaced '],
  ])('writes %j as %j', (value, text) => {
    expect(csvField(value)).toBe(text);
    expect(csvRecords([[value, 'x']])).toBe(reference([[value, 'x']]));
  });

  it('writes any records as csv-stringify does', () => {
    const field = fc.option(
      fc.oneof(
        fc.string({ unit: fc.constantFrom('a', ',', '"', '\r', '\n', ' ', 'é', '😀', '\t') }),
        fc.string(),
      ),
      { nil: null },
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { minLength: 1, maxLength: 6 }), { maxLength: 8 }),
        (rows) => {
          expect(csvRecords(rows)).toBe(reference(rows));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
