import { execFileSync } from 'node:child_process';
import { appendFileSync, createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as csvParse } from 'csv-parse/sync';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { inferSchema, initParser } from 'udsv';
import { parseCsv } from '../shared/data/csv';
import { checkTable, type DataContract } from '../shared/data/data-contract';
import { parseJsonLines } from '../shared/data/jsonl';
import { parseParquet } from '../shared/data/parquet';
import { readDropStream } from '../shared/data/read-drop';
import { mulberry32 } from '../shared/training/split';
import { writeSection } from './report';

/**
 * Parse + validate of a 1,000,000-row, 20-column drop in each format, beside a plain parse of the
 * same file measured in the same run: uDSV (the fastest npm CSV parser we know of; a string per
 * cell), csv-parse and a naive split for CSV; `JSON.parse` per line for JSON Lines; hyparquet's
 * `parquetReadObjects` for Parquet. Then a drop of over 1 GiB (the same rows repeated), streamed
 * from a file the way a blob download is read: parsed and checked under a raised MAX_DROP_BYTES,
 * and refused (hashed only) under the default. Each measure runs in its own child process, so its
 * peak RSS is its own. Writes the "Data" section of docs/benchmarks.md.
 *
 *   node dist/bench/data.js [rows] [measure,measure,...]
 */
const ROWS = Number(process.argv[2] ?? 1_000_000);
/** Copies of the CSV's rows in the large drop: 7 × ~164 MB is just over 1 GiB at a million rows. */
const LARGE_COPIES = 7;
const DEFAULT_MAX_DROP_BYTES = 512 * 2 ** 20;
const RUNS = 3;
const SECTION = '## Data: parse and validate a drop';

const NUMBERS = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'];
const INTEGERS = ['i1', 'i2', 'i3', 'i4', 'i5'];
const CATEGORIES = ['c1', 'c2', 'c3', 'c4', 'c5'];
const HEADER = [...NUMBERS, ...INTEGERS, ...CATEGORIES, 'flag', 'label'];

const contract: DataContract = {
  target: { name: 'label', type: 'label', labelType: 'string' },
  features: Object.fromEntries([
    ...NUMBERS.map((name, i) => [name, { type: 'number', nullable: i < 3 }]),
    ...INTEGERS.map((name) => [name, { type: 'integer', min: 0, max: 1_000_000 }]),
    ...CATEGORIES.map((name, i) => [name, { type: 'category', nullable: i === 0 }]),
    ['flag', { type: 'boolean' }],
  ]),
  excluded: {},
  source: 'definition',
} as DataContract;

/** Rows of values; about 1 row in 1,000 breaks the contract (text in a number column, a negative count). */
function* rows(count: number): Generator<(string | number | boolean | null)[]> {
  const random = mulberry32(42);
  const levels = CATEGORIES.map((_, i) => Array.from({ length: 5 + i * 10 }, (_, k) => `level-${i}-${k}`));
  for (let r = 0; r < count; r++) {
    const row: (string | number | boolean | null)[] = [];
    for (let i = 0; i < NUMBERS.length; i++) row.push(i < 3 && random() < 0.02 ? null : Math.round((random() * 2000 - 1000) * 1e4) / 1e4);
    for (let i = 0; i < INTEGERS.length; i++) row.push(Math.floor(random() * 100_000));
    for (let i = 0; i < CATEGORIES.length; i++) row.push(i === 0 && random() < 0.02 ? null : levels[i]![Math.floor(random() * levels[i]!.length)]!);
    row.push(random() < 0.5);
    row.push(random() < 0.3 ? 'yes' : 'no');
    const bad = random();
    if (bad < 0.0005) row[1] = 'n/a';
    else if (bad < 0.001) row[9] = -1;
    yield row;
  }
}

function writeFiles(dir: string): Record<'csv' | 'jsonl' | 'parquet' | 'large', string> {
  const csv: string[] = [HEADER.join(',')];
  const jsonl: string[] = [];
  const columns: (string | number | boolean | null)[][] = HEADER.map(() => []);
  for (const row of rows(ROWS)) {
    csv.push(row.map((v) => (v === null ? '' : String(v))).join(','));
    jsonl.push(JSON.stringify(Object.fromEntries(HEADER.map((h, i) => [h, row[i]]))));
    row.forEach((v, i) => columns[i]!.push(v));
  }
  const files = { csv: join(dir, 'drop.csv'), jsonl: join(dir, 'drop.jsonl'), parquet: join(dir, 'drop.parquet'), large: join(dir, 'large.csv') };
  writeFileSync(files.csv, csv.join('\n') + '\n');
  writeFileSync(files.large, csv[0] + '\n');
  const body = Buffer.from(csv.slice(1).join('\n') + '\n');
  for (let i = 0; i < LARGE_COPIES; i++) appendFileSync(files.large, body);
  writeFileSync(files.jsonl, jsonl.join('\n') + '\n');
  // Parquet has types: the bad cells are nulls there (a "n/a" cannot be stored in a DOUBLE column).
  const parquet = parquetWriteBuffer({
    codec: 'SNAPPY',
    columnData: HEADER.map((name, i) => {
      const values = columns[i]!;
      if (i < NUMBERS.length) return { name, data: values.map((v) => (typeof v === 'number' ? v : null)), type: 'DOUBLE' as const };
      if (i < NUMBERS.length + INTEGERS.length) return { name, data: values.map((v) => (typeof v === 'number' ? v : null)), type: 'INT32' as const };
      if (name === 'flag') return { name, data: values, type: 'BOOLEAN' as const };
      return { name, data: values, type: 'STRING' as const };
    }),
  });
  writeFileSync(files.parquet, new Uint8Array(parquet));
  return files;
}

type Measure =
  | 'csv'
  | 'csv-stream'
  | 'csv-bare'
  | 'csv-udsv'
  | 'csv-parse'
  | 'csv-split'
  | 'csv-scan'
  | 'jsonl'
  | 'jsonl-parse'
  | 'parquet'
  | 'parquet-objects'
  | 'large-stream'
  | 'large-refused';

/** Measures that stream their file instead of reading it whole first; run once, without a warm-up (a run is long enough). */
const STREAMED: readonly Measure[] = ['csv-stream', 'large-stream', 'large-refused'];
const ONCE: readonly Measure[] = ['large-stream', 'large-refused'];

/** A file as a blob download hands it over: chunks of 4 MiB (the storage SDK's default block size). */
function fileChunks(file: string): AsyncIterable<Uint8Array> {
  return createReadStream(file, { highWaterMark: 4 * 2 ** 20 });
}

/** Streams a drop through the same reader and checker ingestion uses; accepted rows, or -1 when refused. */
async function streamAndCheck(file: string, maxBytes: number): Promise<number> {
  const streamed = await readDropStream(fileChunks(file), 'drop.csv', { maxBytes, sizeHint: statSync(file).size });
  if (!streamed.table) {
    if (streamed.error?.code !== 'PayloadTooLarge') throw streamed.error ?? new Error('no table');
    return -1;
  }
  return checkTable(streamed.table, contract).acceptedRows;
}

/** One measure, in this (child) process: the work, then what it found, so no run is optimised away. */
async function runOnce(measure: Measure, bytes: Buffer, file: string): Promise<number> {
  switch (measure) {
    case 'csv':
      return checkTable(parseCsv(bytes, 'drop.csv'), contract).acceptedRows;
    case 'csv-stream':
      return streamAndCheck(file, Number.POSITIVE_INFINITY);
    case 'large-stream':
      return streamAndCheck(file, 4 * 2 ** 30);
    case 'large-refused':
      return streamAndCheck(file, DEFAULT_MAX_DROP_BYTES);
    case 'csv-udsv': {
      // uDSV's documented use: a schema inferred from the text, then a string per cell (`stringArrs`).
      const text = bytes.toString('utf8');
      return initParser(inferSchema(text)).stringArrs(text).length;
    }
    case 'csv-bare': {
      // The floor: one JS loop over the bytes counting line breaks, the "bare newline scan" of the issue.
      let lines = 0;
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) lines++;
      return lines;
    }
    case 'csv-scan':
      return parseCsv(bytes, 'drop.csv').rowCount;
    case 'csv-parse':
      return (csvParse(bytes, { bom: true, skip_empty_lines: true }) as string[][]).length - 1;
    case 'csv-split': {
      let cells = 0;
      for (const line of bytes.toString('utf8').split('\n')) cells += line.split(',').length;
      return cells;
    }
    case 'jsonl':
      return checkTable(parseJsonLines(bytes, 'drop.jsonl'), contract).acceptedRows;
    case 'jsonl-parse': {
      let count = 0;
      for (const line of bytes.toString('utf8').split('\n')) if (line) count += JSON.parse(line) ? 1 : 0;
      return count;
    }
    case 'parquet':
      return checkTable(parseParquet(bytes, 'drop.parquet'), contract).acceptedRows;
    case 'parquet-objects': {
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      return (await parquetReadObjects({ file, compressors })).length;
    }
  }
}

async function child(measure: Measure, file: string): Promise<void> {
  const bytes = STREAMED.includes(measure) ? Buffer.alloc(0) : readFileSync(file);
  const before = process.memoryUsage().rss;
  const times: number[] = [];
  // A warm-up, not counted: the JIT compiles the hot loops here.
  let result = ONCE.includes(measure) ? 0 : await runOnce(measure, bytes, file);
  for (let i = 0; i < (ONCE.includes(measure) ? 1 : RUNS); i++) {
    const start = process.hrtime.bigint();
    result = await runOnce(measure, bytes, file);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  process.stdout.write(JSON.stringify({ times, result, rssBefore: before, maxRss: process.resourceUsage().maxRSS * 1024, bytes: statSync(file).size }));
}

interface Result {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly result: number;
  readonly peakMiB: number;
  readonly overFileMiB: number;
  readonly bytes: number;
  readonly runs: number;
}

function measureInChild(measure: Measure, file: string): Result {
  const out = execFileSync(process.execPath, ['--max-old-space-size=8192', __filename, '--child', measure, file], { maxBuffer: 1 << 20, encoding: 'utf8' });
  const { times, result, rssBefore, maxRss, bytes } = JSON.parse(out) as { times: number[]; result: number; rssBefore: number; maxRss: number; bytes: number };
  const sorted = [...times].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)]!,
    min: sorted[0]!,
    max: sorted.at(-1)!,
    result,
    peakMiB: maxRss / 2 ** 20,
    overFileMiB: (maxRss - rssBefore) / 2 ** 20,
    bytes,
    runs: times.length,
  };
}

const rate = (ms: number, rows = ROWS): string => `${Math.round(rows / (ms / 1000)).toLocaleString('en-US')}`;

async function main(): Promise<void> {
  const only = process.argv[3]?.split(',') as Measure[] | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'modelloop-data-bench-'));
  try {
    process.stderr.write(`Writing ${ROWS} rows as CSV, JSON Lines and Parquet, and the CSV rows ${LARGE_COPIES} times over...\n`);
    const files = writeFiles(dir);
    const plan: [string, Measure, keyof typeof files, string][] = [
      ['CSV', 'csv', 'csv', 'modelloop: parse + validate (typed columns), file in memory'],
      ['CSV', 'csv-stream', 'csv', 'modelloop: parse + validate, streamed from the file in 4 MiB chunks, hashed on the way'],
      ['CSV', 'csv-scan', 'csv', 'modelloop: parse only (typed columns, no validation)'],
      ['CSV', 'csv-udsv', 'csv', 'baseline: uDSV 0.7.3 `stringArrs` (a string per cell), no validation'],
      ['CSV', 'csv-parse', 'csv', 'csv-parse `parse` (sync), no validation'],
      ['CSV', 'csv-split', 'csv', 'naive `split` (string per cell, not RFC 4180), no validation'],
      ['CSV', 'csv-bare', 'csv', 'floor: a bare JS loop counting line breaks'],
      ['JSON Lines', 'jsonl', 'jsonl', 'modelloop: parse + validate (typed columns)'],
      ['JSON Lines', 'jsonl-parse', 'jsonl', 'baseline: `JSON.parse` per line, no validation'],
      ['Parquet (snappy)', 'parquet', 'parquet', 'modelloop: parse + validate (typed columns)'],
      ['Parquet (snappy)', 'parquet-objects', 'parquet', 'baseline: hyparquet `parquetReadObjects`, no validation'],
      ['CSV, large', 'large-stream', 'large', 'modelloop: streamed parse + validate, MAX_DROP_BYTES raised to 4 GiB'],
      ['CSV, large', 'large-refused', 'large', 'modelloop: streamed, refused at the default MAX_DROP_BYTES (512 MiB): hashed only'],
    ];
    const results = new Map<Measure, Result>();
    for (const [, measure, file] of plan) {
      if (only && !only.includes(measure)) continue;
      process.stderr.write(`  ${measure}...\n`);
      results.set(measure, measureInChild(measure, files[file]));
    }
    const BASELINES: readonly Measure[] = ['csv-udsv', 'jsonl-parse', 'parquet-objects'];
    const baselineOf: Partial<Record<Measure, Measure>> = {
      csv: 'csv-udsv',
      'csv-stream': 'csv-udsv',
      'csv-scan': 'csv-udsv',
      'csv-parse': 'csv-udsv',
      'csv-split': 'csv-udsv',
      'csv-bare': 'csv-udsv',
      'large-stream': 'csv-udsv',
      jsonl: 'jsonl-parse',
      parquet: 'parquet-objects',
    };
    const lines = [
      SECTION,
      '',
      `Measured by \`node dist/bench/data.js\` (\`bench/data.ts\`) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores,`,
      `load average ${loadavg()[0]!.toFixed(1)} (1 min) when the run ended${loadavg()[0]! > cpus().length / 2 ? ': the machine was busy with other work, so these figures are provisional' : ''}.`,
      `${ROWS.toLocaleString('en-US')} rows × 20 columns (8 numbers, 3 of them with 2% nulls; 5 integers with a range; 5 categories`,
      'of 5–45 levels, one with nulls; a boolean; a yes/no label); about 1 row in 1,000 breaks the contract. Median of',
      `${RUNS} runs after one warm-up run, each measure in its own process ("large": one run, no warm-up); "peak RSS" is the process's`,
      'maximum resident set, "over the file" is that minus the RSS before the measure started (after the file was read, where it is',
      'read whole). Validation is against a held contract (the steady state). "vs. baseline" is rows/s over the baseline\'s rows/s.',
      '',
      '| format | measure | median | min–max | rows/s | vs. baseline | peak RSS | over the file |',
      '|---|---|---|---|---|---|---|---|',
    ];
    for (const [format, measure, , label] of plan) {
      const r = results.get(measure);
      if (!r) continue;
      const rows = measure.startsWith('large') ? ROWS * LARGE_COPIES : ROWS;
      const baseName = baselineOf[measure];
      const base = baseName ? results.get(baseName) : undefined;
      const ratio = base ? `${(rows / r.median / (ROWS / base.median)).toFixed(2)}×` : BASELINES.includes(measure) ? '(baseline)' : '—';
      const spread = r.runs > 1 ? `${r.min.toFixed(0)}–${r.max.toFixed(0)} ms` : 'one run';
      lines.push(
        `| ${format} (${(r.bytes / 2 ** 20).toFixed(0)} MiB) | ${label} | ${r.median.toFixed(0)} ms | ${spread} | ${r.result < 0 ? '— (refused)' : rate(r.median, rows)} | ${ratio} | ${r.peakMiB.toFixed(0)} MiB | ${r.overFileMiB.toFixed(0)} MiB |`,
      );
    }
    const csv = results.get('csv');
    const bare = results.get('csv-bare');
    const large = results.get('large-stream');
    const refused = results.get('large-refused');
    lines.push('');
    if (csv && bare) {
      const bareMBs = csv.bytes / 2 ** 20 / (bare.median / 1000);
      lines.push(
        `The bare loop ran at ${bareMBs.toFixed(0)} MiB/s in this run (about 455 MiB/s on this machine when it was quiet): read the`,
        'absolute rows/s with that factor in mind; the ratios are measured in the same run and hold better.',
      );
    }
    if (csv && results.get('jsonl') && results.get('parquet')) {
      lines.push(
        `Accepted rows: CSV ${csv.result.toLocaleString('en-US')}, JSON Lines ${results.get('jsonl')!.result.toLocaleString('en-US')}, Parquet ${results.get('parquet')!.result.toLocaleString('en-US')} (Parquet's bad cells are nulls in non-nullable columns).`,
      );
    }
    if (large) {
      lines.push(
        `The large drop is the CSV's rows ${LARGE_COPIES} times (${(ROWS * LARGE_COPIES).toLocaleString('en-US')} rows, ${(large.bytes / 2 ** 30).toFixed(2)} GiB), read from a file stream in 4 MiB chunks through`,
        '`readDropStream` (hash + parse in one pass) and `checkTable`, as ingestion reads a streamed blob; its peak RSS is the column',
        `data and the checked columns, not the file${refused ? `; refused at the default limit it is only hashed, in ${refused.peakMiB.toFixed(0)} MiB` : ''}.`,
      );
    }
    lines.push(
      'Goals: CSV parse + validate at ≥ 50% of uDSV\'s rows/s ("vs. baseline" ≥ 0.5×) and ≥ 500,000 rows/s on this machine when quiet.',
      '',
    );
    if (!only) writeSection(SECTION.slice(3), lines.slice(1).join('\n'));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as Measure, process.argv[4]!).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
