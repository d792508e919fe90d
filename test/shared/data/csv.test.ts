import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvReader, MAX_RECORD_BYTES, parseCsv, parseNumber } from '../../../shared/data/csv';
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

describe('CsvReader, chunk by chunk', () => {
  /** Cuts `bytes` at the given fractions of its length: every record boundary, quote and CRLF can fall between two chunks. */
  const chunked = (bytes: Buffer, cuts: number[]): Buffer[] => {
    const at = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
    const out: Buffer[] = [];
    let from = 0;
    for (const to of [...at, bytes.length]) {
      out.push(bytes.subarray(from, to));
      from = to;
    }
    return out;
  };

  it('reads any file cut into any chunks exactly as it reads it whole', () => {
    fc.assert(
      fc.property(csvCase, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), ({ shape, rows }, cuts) => {
        const header = Array.from({ length: shape.width }, (_, i) => `col${i}`);
        const eol = shape.crlf ? '\r\n' : '\n';
        const field = (cell: string): string => (shape.quoteAll || /[",\r\n]/.test(cell) || (shape.width === 1 && cell === '') ? `"${cell.replaceAll('"', '""')}"` : cell);
        const text = (shape.bom ? '\uFEFF' : '') + [header.join(','), ...rows.map((row) => row.map(field).join(','))].join(eol) + (shape.finalBreak ? eol : '');
        const whole = parseCsv(Buffer.from(text));
        const reader = new CsvReader('drop.csv');
        for (const chunk of chunked(Buffer.from(text), cuts)) reader.push(chunk);
        const streamed = reader.end();
        expect(streamed.header).toEqual(whole.header);
        expect(tableRows(streamed)).toEqual(tableRows(whole));
        expect(Array.from(streamed.lines)).toEqual(Array.from(whole.lines));
      }),
      { numRuns: 300 },
    );
  });

  it('names the line of a malformed row whatever the chunking, one byte at a time included', () => {
    const text = Buffer.from('a,b\r\n1,2\r\n3,"open\r\n');
    const reader = new CsvReader('drop.csv');
    for (let i = 0; i < text.length; i++) reader.push(text.subarray(i, i + 1));
    expect(() => reader.end()).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: 'drop.csv is not valid CSV at line 3: a quoted field is never closed.' }));
    const wide = new CsvReader('drop.csv');
    expect(() => ['a,b\n1,', '2\n1,2,', '3\n'].forEach((chunk) => wide.push(Buffer.from(chunk)))).toThrow(
      expect.objectContaining({ code: 'UnsupportedFormat', message: 'drop.csv is not valid CSV at line 3: the row has more than 2 fields, the header has 2.' }),
    );
  });

  it('refuses a record that grows past the record limit instead of buffering the rest of the file', () => {
    const reader = new CsvReader('drop.csv');
    reader.push(Buffer.from('a,b\n1,"never closed'));
    const block = Buffer.alloc(MAX_RECORD_BYTES / 4, 'x');
    expect(() => {
      for (let i = 0; i < 5; i++) reader.push(block);
    }).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: expect.stringMatching(/^drop\.csv is not valid CSV at line 2: a record is longer than 64 MiB/) }));
  });
});

describe('numbers kept as numbers give back their text', () => {
  it('keeps every cell\'s text and value, whether it is stored as a number or as text', () => {
    const numeric = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.stringMatching(/^[+-]?\d{1,18}(\.\d{0,18})?$/),
      fc.integer({ min: -1e6, max: 1e6 }).chain((n) => fc.integer({ min: 0, max: 6 }).map((d) => (n / 1000).toFixed(d))),
      fc.constantFrom('-0', '-0.0', '007', '1.50', '5.', '.5', '1e5', ' 2 ', '0.0000001', '123456789012345678901234567890', '1e400', 'NaN', 'Infinity'),
    );
    fc.assert(
      fc.property(fc.array(numeric, { minLength: 1, maxLength: 20 }), (cells) => {
        const table = parseCsv(Buffer.from(`x\n${cells.map((c) => (c === '' ? '""' : c)).join('\n')}\n`));
        const column = table.columns[0]!;
        cells.forEach((cell, row) => {
          expect(column.text(row)).toBe(cell);
          expect(Object.is(column.number(row), parseNumber(Buffer.from(cell), 0, cell.length))).toBe(true);
        });
      }),
      { numRuns: 500 },
    );
  });
});
