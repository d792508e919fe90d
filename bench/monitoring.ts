import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite } from '../host/emulators';
import { accumulatorFor, categoryBaseline, numericBaseline, type DriftAccumulator } from '../shared/monitoring/drift';
import { inferenceLogPath, type InferenceLogLine } from '../shared/monitoring/inference-log';
import { readInferenceLog } from '../shared/monitoring/inference-log-reader';
import { BlobStore, CONTAINERS } from '../shared/platform/blob-store';
import { mulberry32 } from '../shared/training/split';
import { spread, writeSection } from './report';

/**
 * Scheduled evaluation at scale: one pass over a model's inference log into drift accumulators,
 * against the obvious way (download each blob whole, parse every line into an array, then bin).
 * Each pass runs in a child process of its own, so its peak RSS is its own.
 */

const LINES_PER_BLOB = 10_000;
const SIZES = [100_000, 1_000_000];
const REPEATS = 3;
const FEATURES = ['tenure', 'charges', 'calls'];

function baselines(): Record<string, ReturnType<typeof numericBaseline> | ReturnType<typeof categoryBaseline>> {
  const random = mulberry32(7);
  return {
    tenure: numericBaseline(Float64Array.from({ length: 10_000 }, () => random() * 72)),
    charges: numericBaseline(Float64Array.from({ length: 10_000 }, () => 20 + random() * 100)),
    calls: numericBaseline(Float64Array.from({ length: 10_000 }, () => Math.floor(random() * 8))),
    contract: categoryBaseline(Array.from({ length: 10_000 }, () => ['month-to-month', 'one-year', 'two-year'][Math.floor(random() * 3)]!)),
  };
}

async function writeLog(blobs: BlobStore, model: string, rows: number): Promise<void> {
  const random = mulberry32(rows);
  const at = new Date('2026-11-01T10:00:00Z');
  for (let written = 0, blob = 0; written < rows; blob++) {
    const lines: string[] = [];
    for (let i = 0; i < LINES_PER_BLOB && written < rows; i++, written++) {
      const p = random();
      const line: InferenceLogLine = {
        time: at.toISOString(),
        model,
        version: 1,
        inputs: { tenure: Math.round(random() * 90), charges: 20 + random() * 120, calls: Math.floor(random() * 9), contract: ['month-to-month', 'one-year', 'two-year', 'weekly'][Math.floor(random() * 4)]! },
        outputs: { label: p > 0.5 ? 'yes' : 'no', probabilities: [1 - p, p] },
      };
      lines.push(JSON.stringify(line));
    }
    await blobs.write(CONTAINERS.inferenceLogs, inferenceLogPath(model, at, `b${blob}`), lines.join('\n') + '\n');
  }
}

/** In the child: one pass, then what it took. */
async function child(mode: 'stream' | 'whole', connection: string, model: string): Promise<void> {
  const blobs = new BlobStore(connection);
  const base = baselines();
  const accumulators: Record<string, DriftAccumulator> = Object.fromEntries(Object.entries(base).map(([name, b]) => [name, accumulatorFor(b)]));
  const from = new Date(0);
  const to = new Date(Date.now() + 60_000);
  const started = process.hrtime.bigint();
  let rows = 0;
  if (mode === 'stream') {
    for await (const lines of readInferenceLog(blobs, model, from, to)) {
      for (const line of lines) {
        rows++;
        for (const name of [...FEATURES, 'contract']) accumulators[name]!.add(line.inputs[name]);
      }
    }
  } else {
    const all: InferenceLogLine[] = [];
    for (const blob of await blobs.list(CONTAINERS.inferenceLogs, `${model}/`)) {
      const read = await blobs.read(CONTAINERS.inferenceLogs, blob.name);
      for (const text of read!.bytes.toString('utf8').split('\n')) if (text) all.push(JSON.parse(text) as InferenceLogLine);
    }
    for (const line of all) for (const name of [...FEATURES, 'contract']) accumulators[name]!.add(line.inputs[name]);
    rows = all.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const psi = accumulators.tenure!.figures().value;
  process.stdout.write(JSON.stringify({ rows, seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024, psi }));
}

interface Pass {
  rows: number;
  seconds: number;
  peakRssMiB: number;
  psi: number;
}

function runChild(mode: 'stream' | 'whole', connection: string, model: string): Pass {
  const out = execFileSync(process.execPath, [__filename, '--child', mode, connection, model], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as Pass;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'modelloop-bench-monitoring-'));
  const azurite = await startAzurite({ location: dataDir });
  try {
    const blobs = new BlobStore(azurite.connectionString);
    await blobs.ensureContainers();
    const table: string[] = [];
    const peaks: { stream: number; whole: number }[] = [];
    for (const size of SIZES) {
      const model = `bench-${size}`;
      console.log(`Writing ${size.toLocaleString('en-US')} logged rows…`);
      await writeLog(blobs, model, size);
      const stream: Pass[] = [];
      const whole: Pass[] = [];
      for (let r = 0; r < REPEATS; r++) {
        stream.push(runChild('stream', azurite.connectionString, model));
        whole.push(runChild('whole', azurite.connectionString, model));
        console.log(`  ${size} rows, run ${r + 1}: stream ${stream.at(-1)!.seconds.toFixed(2)} s / ${stream.at(-1)!.peakRssMiB.toFixed(0)} MiB; whole ${whole.at(-1)!.seconds.toFixed(2)} s / ${whole.at(-1)!.peakRssMiB.toFixed(0)} MiB`);
      }
      if (stream.some((p) => p.rows !== size) || whole.some((p) => p.rows !== size) || stream[0]!.psi !== whole[0]!.psi) {
        throw new Error('the two passes did not read the same rows into the same figures');
      }
      const s = spread(stream.map((p) => size / p.seconds));
      const w = spread(whole.map((p) => size / p.seconds));
      const sm = spread(stream.map((p) => p.peakRssMiB));
      const wm = spread(whole.map((p) => p.peakRssMiB));
      peaks.push({ stream: sm.median, whole: wm.median });
      table.push(
        `| ${size.toLocaleString('en-US')} | ${fmt(s.median)} (${fmt(s.p10)}–${fmt(s.p90)}) | ${sm.median.toFixed(0)} MiB | ${fmt(w.median)} (${fmt(w.p10)}–${fmt(w.p90)}) | ${wm.median.toFixed(0)} MiB | ${(s.median / w.median).toFixed(2)}× | ${(sm.median / wm.median).toFixed(2)}× |`,
      );
    }
    const body = `Measured ${new Date().toISOString().slice(0, 10)} on this machine (${process.version}), by \`node dist/bench/monitoring.js\`.
One evaluation pass over a model's inference log (Azurite, blobs of ${LINES_PER_BLOB.toLocaleString('en-US')} JSON lines; 3 numeric inputs and
1 category binned against their training baselines), in a child process per pass so peak RSS is the
pass's own. modelloop streams each blob chunk by chunk, split into lines, into fixed-size accumulators
(\`shared/monitoring/inference-log-reader.ts\`); the baseline downloads each blob whole and parses every
line into an array first. Both give the same figures (checked). Median of ${REPEATS} runs (p10–p90).

| logged rows | modelloop rows/s | modelloop peak RSS | baseline rows/s | baseline peak RSS | speed ratio | memory ratio |
|---|---|---|---|---|---|---|
${table.join('\n')}

From ${SIZES[0]!.toLocaleString('en-US')} to ${SIZES.at(-1)!.toLocaleString('en-US')} logged rows, modelloop's peak RSS went from ${peaks[0]!.stream.toFixed(0)} to ${peaks.at(-1)!.stream.toFixed(0)} MiB (×${(peaks.at(-1)!.stream / peaks[0]!.stream).toFixed(2)}); the baseline's from ${peaks[0]!.whole.toFixed(0)} to ${peaks.at(-1)!.whole.toFixed(0)} MiB (×${(peaks.at(-1)!.whole / peaks[0]!.whole).toFixed(2)}).`;
    writeSection('Scheduled evaluation: reading the inference log', body);
    console.log(body);
  } finally {
    await azurite.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function fmt(rowsPerSecond: number): string {
  return Math.round(rowsPerSecond).toLocaleString('en-US');
}

if (process.argv[2] === '--child') {
  void child(process.argv[3] as 'stream' | 'whole', process.argv[4]!, process.argv[5]!).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  void main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
