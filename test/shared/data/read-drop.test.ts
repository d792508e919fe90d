import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { checkTable, inferContract } from '../../../shared/data/data-contract';
import { tableRows } from '../../../shared/data/drop-table';
import { readDrop } from '../../../shared/data/read-drop';
import { ModelloopError } from '../../../shared/platform/errors';

const fixtures = join(__dirname, '..', '..', 'fixtures', 'data');

function parquet(codec: 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED', rows = 30): Uint8Array {
  return new Uint8Array(
    parquetWriteBuffer({
      codec,
      compressors: { GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)) },
      rowGroupSize: 8,
      columnData: [
        { name: 'x', data: Float64Array.from({ length: rows }, (_, i) => i / 2), type: 'DOUBLE' },
        { name: 'count', data: Array.from({ length: rows }, (_, i) => BigInt(i)), type: 'INT64' },
        { name: 'member', data: Array.from({ length: rows }, (_, i) => i % 3 === 0), type: 'BOOLEAN' },
        { name: 'color', data: Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : ['red', 'blue'][i % 2]!)), type: 'STRING' },
        { name: 'label', data: Array.from({ length: rows }, (_, i) => (i % 2 ? 'yes' : 'no')), type: 'STRING' },
      ],
    }),
  );
}

describe('readDrop', () => {
  it('reads JSON Lines: keys in first-seen order, missing keys empty, values keeping their JSON types', () => {
    const table = readDrop(Buffer.from('\uFEFF{"x": 1.5, "c": "red"}\r\n\n{"c": "blue", "x": null, "late": true}\n{"x": "2"}'), 'drop.jsonl');
    expect(table.header).toEqual(['x', 'c', 'late']);
    expect(Array.from(table.lines)).toEqual([1, 3, 4]);
    expect(tableRows(table)).toEqual([
      ['1.5', 'red', ''],
      ['', 'blue', 'true'],
      ['2', '', ''],
    ]);
    const x = table.columns[0]!;
    expect([x.number(0), x.isEmpty(1), x.number(2)]).toEqual([1.5, true, NaN]);
    expect(table.columns[2]!.boolean(1)).toBe(1);
  });

  it('rejects JSON Lines with a line that is not a JSON object, naming the line', () => {
    expect(() => readDrop(Buffer.from('{"a":1}\n{"a":\n'), 'drop.jsonl')).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: expect.stringMatching(/^drop\.jsonl is not valid JSON Lines at line 2: /) }));
    expect(() => readDrop(Buffer.from('{"a":1}\n[1,2]\n'), 'drop.jsonl')).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: expect.stringMatching(/line 2: each line must be a JSON object .*an array/) }));
    expect(() => readDrop(Buffer.from('\n\n'), 'drop.jsonl')).toThrow(expect.objectContaining({ code: 'SchemaViolation', message: 'drop.jsonl has no records: JSON Lines drops need one JSON object per line.' }));
  });

  it.each(['SNAPPY', 'GZIP', 'UNCOMPRESSED'] as const)('reads Parquet compressed with %s, across row groups', (codec) => {
    const table = readDrop(parquet(codec), 'drop.parquet');
    expect(table.header).toEqual(['x', 'count', 'member', 'color', 'label']);
    expect(table.rowCount).toBe(30);
    expect(tableRows(table)[11]).toEqual(['5.5', '11', 'false', 'blue', 'yes']);
    expect(tableRows(table)[10]).toEqual(['5', '10', 'false', '', 'no']);
    expect(table.lines[29]).toBe(30);
  });

  it('reads Parquet compressed with ZSTD (fixture written by test/fixtures/data/make-zstd-parquet.mjs)', () => {
    const table = readDrop(readFileSync(join(fixtures, 'zstd.parquet')), 'zstd.parquet');
    expect(table.header).toEqual(['x', 'n', 'color', 'label']);
    expect(tableRows(table).slice(0, 2)).toEqual([
      ['0', '0', '', 'no'],
      ['0.25', '1', 'green', 'yes'],
    ]);
  });

  it('checks Parquet drops against an inferred contract like any other', () => {
    const table = readDrop(parquet('SNAPPY'), 'drop.parquet');
    const contract = inferContract(table, { task: 'classification', target: 'label' }, 'p');
    expect(contract.features).toEqual({
      x: { type: 'number', nullable: false },
      count: { type: 'integer', nullable: false },
      member: { type: 'boolean', nullable: false },
      color: { type: 'category', nullable: true },
    });
    const checked = checkTable(table, contract);
    expect(checked.acceptedRows).toBe(30);
    expect(Array.from(checked.columns.member as Float64Array).slice(0, 4)).toEqual([1, 0, 0, 1]);
  });

  it('rejects a file that is not Parquet, and a file of another kind', () => {
    expect(() => readDrop(Buffer.from('x,y\n1,2\n'), 'drop.parquet')).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: expect.stringMatching(/^drop\.parquet is not a readable Parquet file: /) }));
    expect(() => readDrop(Buffer.from('x'), 'notes.txt')).toThrow(expect.objectContaining({ code: 'UnsupportedFormat', message: '"notes.txt" is not a data file: name it .csv, .jsonl or .parquet.' }));
  });
});

/** What the ingest use case does with any bytes: read, infer, check; only a ModelloopError may escape. */
function judge(bytes: Uint8Array, file: string): 'report' | string {
  try {
    const table = readDrop(bytes, file);
    const contract = inferContract(table, { task: 'classification', target: table.header[0] ?? 'y' }, 'any');
    checkTable(table, contract);
    return 'report';
  } catch (err) {
    if (!(err instanceof ModelloopError)) throw err;
    expect(['UnsupportedFormat', 'SchemaViolation', 'PayloadTooLarge']).toContain(err.code);
    expect(err.message).toContain(file);
    return err.code;
  }
}

describe('any bytes get a report or a clear error, never a crash', () => {
  const csvish = fc.string({ unit: fc.constantFrom('a', '1', '.', '-', ',', '"', '\n', '\r', ' ', 'e', '{', '}', ':', '[', 'é'), maxLength: 80 }).map((s) => Buffer.from(s));
  const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), csvish);

  it.each(['drop.csv', 'drop.jsonl', 'drop.parquet'])('%s', (file) => {
    fc.assert(fc.property(anyBytes, (bytes) => void judge(bytes, file)), { numRuns: 500 });
  });

  // Damage to the footer (schema, row groups, offsets). Damage inside compressed page data can make
  // hyparquet's RLE decoder run for a very long time (a run length it does not clamp), so it is not
  // generated here; see the report on this issue.
  it('drop.parquet with a damaged footer', () => {
    const good = parquet('SNAPPY', 20);
    const footer = new DataView(good.buffer, good.byteOffset).getUint32(good.length - 8, true) + 8;
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.integer({ min: good.length - footer, max: good.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = Uint8Array.from(good);
        for (const { at, value } of edits) bytes[at] = value;
        judge(bytes, 'drop.parquet');
      }),
      { numRuns: 300 },
    );
  });
});
