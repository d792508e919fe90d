import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCsv, parseNumber } from '../../../shared/data/csv';
import { tableRows } from '../../../shared/data/drop-table';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

describe('parseCsv', () => {
  it('reads quoted fields with commas, quotes and newlines, CRLF and a BOM', () => {
    const table = parseCsv(bytes('\uFEFFname,note\r\n"Smith, J","said ""hi""\r\nthen left"\r\nLee,plain\r\n'));
    expect(table.header).toEqual(['name', 'note']);
    expect(tableRows(table)).toEqual([
      ['Smith, J', 'said "hi"\r\nthen left'],
      ['Lee', 'plain'],
    ]);
  });

  it('numbers each row by the line a person finds it on, across multi-line fields and blank lines', () => {
    const table = parseCsv(bytes('a,b\n1,"x\ny"\n\n3,4\n'));
    expect(Array.from(table.lines)).toEqual([2, 5]);
  });

  it('reads a last row without a line break, empty last fields and CR-only line ends', () => {
    expect(tableRows(parseCsv(bytes('a,b\r1,\r2,3')))).toEqual([
      ['1', ''],
      ['2', '3'],
    ]);
  });

  it('rejects a row with the wrong number of fields, naming the line', () => {
    expect(() => parseCsv(bytes('a,b\n1,2\n1,2,3\n'), 'drop.csv')).toThrow(
      expect.objectContaining({ code: 'UnsupportedFormat', message: 'drop.csv is not valid CSV at line 3: the row has more than 2 fields, the header has 2.' }),
    );
    expect(() => parseCsv(bytes('a,b\n1\n'), 'drop.csv')).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: 'drop.csv is not valid CSV at line 2: the row has 1 fields, the header has 2.' }));
  });

  it('rejects an unclosed quote and text after a closing quote, naming the line', () => {
    expect(() => parseCsv(bytes('a,b\n1,2\n3,"open\n'), 'drop.csv')).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: 'drop.csv is not valid CSV at line 3: a quoted field is never closed.' }));
    expect(() => parseCsv(bytes('a,b\n"x"y,2\n'), 'drop.csv')).toThrow(
      expect.objectContaining({ code: 'UnsupportedFormat', message: expect.stringMatching(/^drop\.csv is not valid CSV at line 2: "y" follows the closing quote of field "a"/) }),
    );
  });

  it('rejects an empty file and a header with a duplicate or empty name', () => {
    expect(() => parseCsv(bytes(''))).toThrow(expect.objectContaining({ code: 'SchemaViolation', message: expect.stringMatching(/header row/) }));
    expect(() => parseCsv(bytes('\r\n\n'))).toThrow(expect.objectContaining({ code: 'SchemaViolation', message: expect.stringMatching(/header row/) }));
    expect(() => parseCsv(bytes('a,a\n1,2\n'))).toThrow(expect.objectContaining({ code: 'SchemaViolation', message: expect.stringMatching(/"a" twice/) }));
    expect(() => parseCsv(bytes('a,,c\n1,2,3\n'))).toThrow(expect.objectContaining({ code: 'SchemaViolation', message: expect.stringMatching(/column 2 .*no name/) }));
  });

  it('reads numbers, booleans and categories straight from the bytes', () => {
    const table = parseCsv(bytes('n,b,c\n 2.5 ,TRUE, red \n-1e3,false,"re""d"\nx,1,\n'));
    const [n, b, c] = table.columns;
    expect([n!.number(0), n!.number(1), n!.number(2)]).toEqual([2.5, -1000, NaN]);
    expect([b!.boolean(0), b!.boolean(1), b!.boolean(2)]).toEqual([1, 0, -1]);
    expect([c!.category(0), c!.category(1), c!.category(2), c!.isEmpty(2)]).toEqual(['red', 're"d', null, true]);
  });
});

/** RFC 4180 writing with every freedom a writer has: optional quotes, CRLF or LF, a BOM, a final line break or not. */
const cellText = fc.string({ unit: fc.constantFrom('a', 'Z', '1', '.', ' ', ',', '"', '\n', '\r', 'é', '😀', '\t'), maxLength: 8 });
const csvCase = fc
  .record({
    width: fc.integer({ min: 1, max: 5 }),
    crlf: fc.boolean(),
    bom: fc.boolean(),
    finalBreak: fc.boolean(),
    quoteAll: fc.boolean(),
  })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      rows: fc.array(fc.array(cellText, { minLength: shape.width, maxLength: shape.width }), { maxLength: 12 }),
    }),
  );

describe('parseCsv, property-based', () => {
  it('reads back every table an RFC 4180 writer can produce, with the line each row starts on', () => {
    fc.assert(
      fc.property(csvCase, ({ shape, rows }) => {
        const header = Array.from({ length: shape.width }, (_, i) => `col${i}`);
        const eol = shape.crlf ? '\r\n' : '\n';
        // A width-1 row with an empty cell would be an empty line (skipped), so it is quoted.
        const field = (cell: string): string => (shape.quoteAll || /[",\r\n]/.test(cell) || (shape.width === 1 && cell === '') ? `"${cell.replaceAll('"', '""')}"` : cell);
        const expectedLines: number[] = [];
        let line = 2;
        for (const row of rows) {
          expectedLines.push(line);
          line += 1 + row.reduce((sum, cell) => sum + (cell.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
        }
        const text = (shape.bom ? '\uFEFF' : '') + [header.join(','), ...rows.map((row) => row.map(field).join(','))].join(eol) + (shape.finalBreak ? eol : '');
        const table = parseCsv(Buffer.from(text));
        expect(table.header).toEqual(header);
        expect(tableRows(table)).toEqual(rows);
        expect(Array.from(table.lines)).toEqual(expectedLines);
      }),
      { numRuns: 300 },
    );
  });

  it('parses the text of every double, and any decimal text, exactly as Number does', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const text = String(value);
        expect(parseNumber(Buffer.from(text), 0, text.length)).toBe(Number(text));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[+-]?(\d{1,20}\.?\d{0,20}|\.\d{1,20})([eE][+-]?\d{1,3})?$/), (text) => {
        const expected = Number(text);
        expect(parseNumber(Buffer.from(text), 0, text.length)).toBe(Number.isFinite(expected) ? expected : NaN);
      }),
      { numRuns: 2000 },
    );
  });
});
