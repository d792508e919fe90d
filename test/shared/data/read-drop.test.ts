import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { checkTable, inferContract } from '../../../shared/data/data-contract';
import { tableRows } from '../../../shared/data/drop-table';
import { readDrop, readDropStream } from '../../../shared/data/read-drop';
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
      // The first example was a counterexample (seed -64214435): a footer claiming -4 rows.
      { numRuns: 300, examples: [[[{ at: 843, value: 7 }]]] },
    );
  });
});

describe('readDropStream', () => {
  const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
  /** The bytes in chunks of `size`, as a stream hands them over. */
  async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  }
  const csv = Buffer.from('x,c,flag,label\r\n1.50,"red, dark",true,yes\n-2,blue,FALSE,no\n\n3e2,,true,"y""es"\n');
  const jsonl = Buffer.from('\uFEFF{"x": 1.5, "c": "red"}\r\n\n{"c": "blue", "x": null, "late": true}\n{"x": "2"}');

  it.each([
    ['drop.csv', csv],
    ['drop.jsonl', jsonl],
    ['drop.parquet', Buffer.from(parquet('SNAPPY'))],
  ])('reads %s in chunks into the same table as the whole file, with the content hash as its id', async (file, bytes) => {
    const whole = readDrop(bytes, file);
    for (const size of [1, 2, 7, 64, bytes.length]) {
      const streamed = await readDropStream(chunks(bytes, size), file);
      expect(streamed.error).toBeUndefined();
      expect(streamed).toMatchObject({ datasetId: sha256(bytes), bytes: bytes.length });
      expect(streamed.table!.header).toEqual(whole.header);
      expect(tableRows(streamed.table!)).toEqual(tableRows(whole));
      expect(Array.from(streamed.table!.lines)).toEqual(Array.from(whole.lines));
    }
  });

  it('hashes a drop over the limit to its end without parsing it, and names its size and the setting', async () => {
    // 1 GiB of CSV rows, made of one 1 MiB chunk handed over 1024 times: nothing the size of the drop is held.
    const row = '1.5,red,true,yes\n';
    const block = Buffer.from(row.repeat(Math.floor(2 ** 20 / row.length)).padEnd(2 ** 20, '\n'));
    async function* gibibyte(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('x,c,flag,label\n');
      for (let i = 0; i < 1024; i++) yield block;
    }
    const streamed = await readDropStream(gibibyte(), 'big.csv', { maxBytes: 512 * 2 ** 20 });
    expect(streamed.table).toBeUndefined();
    expect(streamed.bytes).toBe(2 ** 30 + 15);
    expect(streamed.datasetId).toMatch(/^[0-9a-f]{64}$/);
    expect(streamed.error).toMatchObject({
      code: 'PayloadTooLarge',
      message: 'The drop is 1.00 GiB (1073741839 bytes), over the limit of 512.00 MiB (536870912 bytes) set by MAX_DROP_BYTES; split it into smaller drops or raise the setting.',
    });
  }, 120_000);

  it('only hashes a stream whose announced size is over the limit', async () => {
    const streamed = await readDropStream(chunks(csv, 7), 'drop.csv', { maxBytes: 20, sizeHint: csv.length });
    expect(streamed).toMatchObject({ datasetId: sha256(csv), bytes: csv.length, error: { code: 'PayloadTooLarge', message: expect.stringMatching(/^The drop is \d+ bytes, over the limit of 20 bytes set by MAX_DROP_BYTES/) } });
    expect(streamed.table).toBeUndefined();
  });

  it('keeps hashing after a malformed row, so the report of an unreadable drop has the content\'s id', async () => {
    const bytes = Buffer.from('a,b\n1,2\n1,2,3\n4,5\n');
    const streamed = await readDropStream(chunks(bytes, 5), 'drop.csv');
    expect(streamed).toMatchObject({ datasetId: sha256(bytes), bytes: bytes.length, error: { code: 'UnsupportedFormat', message: 'drop.csv is not valid CSV at line 3: the row has more than 2 fields, the header has 2.' } });
    expect(streamed.table).toBeUndefined();
  });
});
