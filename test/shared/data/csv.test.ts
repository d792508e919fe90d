import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../../shared/data/csv';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

describe('parseCsv', () => {
  it('reads quoted fields with commas, quotes and newlines, CRLF and a BOM', () => {
    const table = parseCsv(bytes('\uFEFFname,note\r\n"Smith, J","said ""hi""\r\nthen left"\r\nLee,plain\r\n'));
    expect(table.header).toEqual(['name', 'note']);
    expect(table.rows).toEqual([
      ['Smith, J', 'said "hi"\r\nthen left'],
      ['Lee', 'plain'],
    ]);
  });

  it('numbers each row by the line a person finds it on, across multi-line fields and blank lines', () => {
    const table = parseCsv(bytes('a,b\n1,"x\ny"\n\n3,4\n'));
    expect(Array.from(table.lines)).toEqual([2, 5]);
  });

  it('rejects a row with the wrong number of fields, naming the line', () => {
    expect(() => parseCsv(bytes('a,b\n1,2\n1,2,3\n'), 'drop.csv')).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: expect.stringMatching(/drop\.csv.*line 3/) }));
  });

  it('rejects an empty file and a header with a duplicate or empty name', () => {
    expect(() => parseCsv(bytes(''))).toThrow(expect.objectContaining({ code: 'SchemaViolation', message: expect.stringMatching(/header row/) }));
    expect(() => parseCsv(bytes('a,a\n1,2\n'))).toThrow(expect.objectContaining({ message: expect.stringMatching(/"a" twice/) }));
    expect(() => parseCsv(bytes('a,,c\n1,2,3\n'))).toThrow(expect.objectContaining({ message: expect.stringMatching(/column 2 .*no name/) }));
  });
});
