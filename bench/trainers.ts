import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DataContract } from '../shared/data/data-contract';
import { inferContract } from '../shared/data/data-contract';
import { readDrop } from '../shared/data/read-drop';
import { designMatrix, fitPreprocessing, type TrainingTable } from '../shared/training/design-matrix';
import { fitGbdt, predictGbdt, type GbdtObjective } from '../shared/training/gbdt';
import { fitLogisticRegression, predictProbabilities } from '../shared/training/logistic-regression';
import { classificationMetrics, regressionMetrics } from '../shared/training/metrics';
import { fitRidge, predictRidge } from '../shared/training/ridge-regression';
import { mulberry32 } from '../shared/training/split';
import { trainCandidates, trainModel } from '../shared/training/train-model';
import { writeSection } from './report';

/**
 * The built-in trainers beside XGBoost and scikit-learn, on the same generated data in the same
 * run, each trainer in its own process (so peak memory is its own). Then the full model selection
 * on public data sets shipped inside Debian's python3-sklearn, against scikit-learn's default
 * models on the same split. Writes its section of docs/benchmarks.md.
 *
 *   node dist/bench/trainers.js [--rows 1000000] [--small-rows 100000] [--test-rows 100000]
 *                               [--cases binary,logistic,regression,multiclass,datasets] [--no-write]
 */
const root = resolve(__dirname, '..', '..');
const PYTHON = '/usr/bin/python3';
const PEERS = join(root, 'bench', 'peers.py');
const FEATURES = 28;
const GBDT = { rounds: 100, learningRate: 0.1, maxLeaves: 31, maxBins: 255, minSamplesLeaf: 20, l2: 1 };
const L2 = 1;

interface Run {
  readonly seconds: number;
  readonly peakMiB: number;
  readonly growthMiB: number;
  readonly metrics: Record<string, number>;
}

interface CaseFiles {
  readonly x: string;
  readonly y: string;
  readonly xTest: string;
  readonly yTest: string;
  readonly features: number;
  readonly task: 'classification' | 'regression';
  readonly classes: number;
}

/** Seeded synthetic rows: a nonlinear signal in 6 of 28 uniform features, the rest noise. */
function generate(rows: number, seed: number, kind: 'binary' | 'regression' | 'multiclass'): { x: Float32Array; y: Float32Array } {
  const random = mulberry32(seed);
  const x = new Float32Array(rows * FEATURES);
  const y = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * FEATURES;
    for (let f = 0; f < FEATURES; f++) x[o + f] = random() * 2 - 1;
    const s = 2 * x[o]! - 1.5 * x[o + 1]! ** 2 + Math.sin(3 * x[o + 2]!) + 2 * x[o + 3]! * x[o + 4]! + 0.5 * x[o + 5]!;
    if (kind === 'binary') y[i] = random() < 1 / (1 + Math.exp(-4 * s)) ? 1 : 0;
    else if (kind === 'regression') y[i] = s + (random() - 0.5);
    else {
      const t = s + (random() - 0.5) * 0.8;
      y[i] = t < -0.5 ? 0 : t < 0.8 ? 1 : 2;
    }
  }
  return { x, y };
}

function writeCase(dir: string, name: string, rows: number, testRows: number, kind: 'binary' | 'regression' | 'multiclass'): CaseFiles {
  const train = generate(rows, 1, kind);
  const test = generate(testRows, 2, kind);
  const file = (suffix: string, data: Float32Array): string => {
    const path = join(dir, `${name}-${suffix}.f32`);
    writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return path;
  };
  return {
    x: file('x', train.x),
    y: file('y', train.y),
    xTest: file('x-test', test.x),
    yTest: file('y-test', test.y),
    features: FEATURES,
    task: kind === 'regression' ? 'regression' : 'classification',
    classes: kind === 'binary' ? 2 : kind === 'multiclass' ? 3 : 0,
  };
}

function readFloats(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Column-major float64 columns from row-major float32 rows. */
function columnsOf(x: Float32Array, features: number): Float64Array[] {
  const rows = x.length / features;
  return Array.from({ length: features }, (_, f) => {
    const column = new Float64Array(rows);
    for (let i = 0; i < rows; i++) column[i] = x[i * features + f]!;
    return column;
  });
}

/** Child process: one modelloop trainer on one case; prints a Run as JSON. */
function child(job: CaseFiles & { trainer: 'gbdt' | 'linear'; threads: number }): void {
  const x = columnsOf(readFloats(job.x), job.features);
  const y = readFloats(job.y);
  const xTest = columnsOf(readFloats(job.xTest), job.features);
  const yTest = readFloats(job.yTest);
  const rows = y.length;
  const classification = job.task === 'classification';
  const before = process.memoryUsage().rss / 2 ** 20;
  const started = performance.now();
  let predicted: Float64Array;
  if (job.trainer === 'gbdt') {
    const objective: GbdtObjective = !classification ? 'regression' : job.classes === 2 ? 'binary' : 'multiclass';
    const model = fitGbdt({ rows, columns: x, categorical: x.map(() => false) }, Float64Array.from(y), { objective, classes: job.classes, ...GBDT, seed: 1, threads: job.threads });
    const seconds = (performance.now() - started) / 1000;
    predicted = predictGbdt(model, { rows: yTest.length, columns: xTest, categorical: x.map(() => false) });
    report(seconds);
  } else {
    // What the product does: learn standardisation, build the design matrix, fit.
    const names = x.map((_, f) => `f${f}`);
    const table: TrainingTable = { rows, columns: Object.fromEntries(names.map((n, f) => [n, x[f]!])), target: [] };
    const contract = { features: Object.fromEntries(names.map((n) => [n, { type: 'number' }])) } as unknown as DataContract;
    const all = Int32Array.from({ length: rows }, (_, i) => i);
    const features = fitPreprocessing(contract, table, all);
    const design = designMatrix(features, table, all);
    const testTable: TrainingTable = { rows: yTest.length, columns: Object.fromEntries(names.map((n, f) => [n, xTest[f]!])), target: [] };
    const testDesign = designMatrix(features, testTable, Int32Array.from({ length: yTest.length }, (_, i) => i));
    if (classification) {
      const model = fitLogisticRegression(design.x, rows, design.cols, Int32Array.from(y), job.classes, { l2: L2 });
      const seconds = (performance.now() - started) / 1000;
      predicted = predictProbabilities(model, testDesign.x, yTest.length);
      report(seconds);
    } else {
      const model = fitRidge(design.x, rows, design.cols, Float64Array.from(y), { l2: L2 });
      const seconds = (performance.now() - started) / 1000;
      predicted = predictRidge(model, testDesign.x, yTest.length);
      report(seconds);
    }
  }
  function report(seconds: number): void {
    const peak = process.resourceUsage().maxRSS / 1024;
    const metrics = classification ? classificationMetrics(Int32Array.from(yTest), predicted, job.classes) : regressionMetrics(Float64Array.from(yTest), predicted);
    process.stdout.write(JSON.stringify({ seconds, peakMiB: peak, growthMiB: peak - before, metrics } satisfies Run));
  }
}

/** `threads`: threads of the gradient-boosted trees (one per row shard); 2 is the trainer's default on two cores. */
function runOurs(job: CaseFiles, trainer: 'gbdt' | 'linear', threads = 2): Run {
  const result = spawnSync(process.execPath, ['--max-old-space-size=8192', __filename, '--child', JSON.stringify({ ...job, trainer, threads })], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (result.status !== 0) throw new Error(`modelloop ${trainer} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Run;
}

function python(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  if (!existsSync(PYTHON)) return { ok: false, stdout: '', stderr: `${PYTHON} not found` };
  const result = spawnSync(PYTHON, [PEERS, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { ok: result.status === 0, stdout: result.stdout, stderr: result.stderr };
}

function runPeer(job: CaseFiles, peer: string): Run {
  const result = python(['fit', JSON.stringify({ ...job, peer, params: GBDT })]);
  if (!result.ok) throw new Error(`${peer} failed: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(result.stdout) as Run;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Repeats a run and keeps the median time, the largest peak and the last metrics (they do not vary: seeded). */
function repeat(times: number, run: () => Run): Run & { spread: string } {
  const runs = Array.from({ length: times }, run);
  const seconds = runs.map((r) => r.seconds);
  return {
    seconds: median(seconds),
    peakMiB: Math.max(...runs.map((r) => r.peakMiB)),
    growthMiB: Math.max(...runs.map((r) => r.growthMiB)),
    metrics: runs[runs.length - 1]!.metrics,
    spread: times > 1 ? `${Math.min(...seconds).toFixed(2)}–${Math.max(...seconds).toFixed(2)} s` : 'one run',
  };
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(JSON.parse(args[1]!));
  const option = (name: string, fallback: string): string => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
  };
  const rows = Number(option('rows', '1000000'));
  const smallRows = Number(option('small-rows', '100000'));
  const testRows = Number(option('test-rows', '100000'));
  const repeats = Number(option('repeats', '1'));
  const cases = option('cases', 'binary,logistic,regression,multiclass,datasets').split(',');
  const write = !args.includes('--no-write');

  const found = python(['check']);
  const versions: Record<string, string | null> = found.ok ? JSON.parse(found.stdout) : { numpy: null, sklearn: null, xgboost: null };
  const missing: string[] = [];
  if (!versions.numpy || !versions.sklearn) missing.push('scikit-learn: apt-get install -y python3-sklearn');
  if (!versions.xgboost) missing.push('XGBoost: apt-get install -y python3-xgboost');
  for (const m of missing) console.log(`Peer not installed, skipped — ${m}`);
  const have = (peer: string): boolean => (peer === 'xgboost' ? !!versions.xgboost : !!versions.sklearn && !!versions.numpy);

  const dir = mkdtempSync(join(tmpdir(), 'modelloop-trainers-'));
  const lines: string[] = [];
  const out = (line = ''): void => {
    console.log(line);
    lines.push(line);
  };
  try {
    out(`Measured by \`node dist/bench/trainers.js\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${availableParallelism()} cores;`);
    out(`peers: XGBoost ${versions.xgboost ?? 'not installed'}, scikit-learn ${versions.sklearn ?? 'not installed'} (Debian packages, /usr/bin/python3).`);
    out(`Each trainer runs in its own process on the same files; time is data-in-memory to fitted model (binning included);`);
    out(`peak memory is the process's maximum RSS (data included). ${repeats} run(s) per trainer, median time.`);
    out(`On this VM the same run can be tens of percent slower from one quarter hour to the next, and modelloop's trees (which move`);
    out(`rows in memory as they split) more than XGBoost's: compare rows of one run, and repeat runs (--repeats) before reading a ratio.`);
    out(loadLine('began'));
    out(`GBDT settings everywhere: ${GBDT.rounds} trees, ${GBDT.maxLeaves} leaves, learning rate ${GBDT.learningRate}, ${GBDT.maxBins} bins, L2 ${GBDT.l2}, min ${GBDT.minSamplesLeaf} rows per leaf (XGBoost: min_child_weight 1), XGBoost with 2 threads.`);
    out(`modelloop's trees choose splits on gradients quantised to ±32 levels per tree (stochastic rounding, seeded; exact integer histograms), on two row shards (the second on a helper thread), leaf values from the exact gradients.`);
    out();
    /** `goal`: the target, time ≤ 1.0× the peer's and the metric no more than `within` worse than its. */
    const table = (title: string, entries: [string, () => Run][], shown: string[], goal?: { peer: string; metric: string; within: number }): void => {
      out(`### ${title}`);
      out();
      out(`| trainer | time | peak memory | ${shown.join(' | ')} | modelloop's time ÷ this |`);
      out(`|---|---|---|${shown.map(() => '---').join('|')}|---|`);
      const results: [string, (Run & { spread: string }) | string][] = entries.map(([name, run]) => {
        try {
          return [name, repeat(repeats, run)];
        } catch (err) {
          return [name, err instanceof Error ? err.message : String(err)];
        }
      });
      const ours = results[0]![1];
      for (const [name, r] of results) {
        if (typeof r === 'string') {
          out(`| ${name} | not run: ${r.replace(/\|/g, '/')} | | ${shown.map(() => '').join(' | ')} | |`);
          continue;
        }
        const ratio = typeof ours === 'object' && name !== results[0]![0] ? `${(ours.seconds / r.seconds).toFixed(2)}×` : '';
        out(`| ${name} | ${r.seconds.toFixed(2)} s (${r.spread}) | ${r.peakMiB.toFixed(0)} MiB | ${shown.map((m) => r.metrics[m]?.toFixed(4) ?? '–').join(' | ')} | ${ratio} |`);
      }
      out();
      const against = goal && results.find(([name]) => name === goal.peer)?.[1];
      if (goal && typeof ours === 'object' && typeof against === 'object') {
        const ratio = ours.seconds / against.seconds;
        // Worse is lower AUC or higher log loss; a better metric than the peer's meets the goal at any distance.
        const worseBy = (goal.metric === 'logloss' ? 1 : -1) * (ours.metrics[goal.metric]! - against.metrics[goal.metric]!);
        const metricVerdict = worseBy <= 0 ? `${(-worseBy).toFixed(4)} better ✓` : `${worseBy.toFixed(4)} worse ${worseBy <= goal.within ? '✓' : '✗'}`;
        out(
          `Goal (time ≤ 1.0× ${goal.peer}, ${goal.metric} no more than ${goal.within} worse): time ${ratio.toFixed(2)}× ${ratio <= 1 ? '✓' : '✗'}, ` +
            `${goal.metric} ${metricVerdict}` +
            (machineBusy() ? ' — not a verdict: the machine was shared, and the time ratio only holds when it is quiet.' : '.'),
        );
        out();
      }
    };
    if (cases.includes('binary') || cases.includes('logistic')) {
      const files = writeCase(dir, 'binary', rows, testRows, 'binary');
      if (cases.includes('binary')) {
        table(
          `GBDT, binary: ${rows.toLocaleString('en')} × ${FEATURES} rows, ${testRows.toLocaleString('en')} test rows`,
          [
            ['modelloop gradient-boosted trees, 2 threads (the default)', () => runOurs(files, 'gbdt', 2)],
            ...(have('xgboost') ? ([['XGBoost hist', () => runPeer(files, 'xgboost')]] as [string, () => Run][]) : []),
            ...(have('sklearn') ? ([['scikit-learn HistGradientBoostingClassifier', () => runPeer(files, 'sklearn-hgb')]] as [string, () => Run][]) : []),
            ['modelloop gradient-boosted trees, 1 thread', () => runOurs(files, 'gbdt', 1)],
          ],
          ['auc', 'logloss', 'accuracy'],
          { peer: 'XGBoost hist', metric: 'auc', within: 0.002 },
        );
      }
      if (cases.includes('logistic')) {
        table(
          `Logistic regression, binary: the same ${rows.toLocaleString('en')} rows`,
          [
            ['modelloop logistic regression (L-BFGS)', () => runOurs(files, 'linear')],
            ...(have('sklearn') ? ([['scikit-learn LogisticRegression(lbfgs), scaled', () => runPeer(files, 'sklearn-logistic')]] as [string, () => Run][]) : []),
          ],
          ['auc', 'logloss', 'accuracy'],
          { peer: 'scikit-learn LogisticRegression(lbfgs), scaled', metric: 'logloss', within: 1e-3 },
        );
      }
    }
    if (cases.includes('regression')) {
      const files = writeCase(dir, 'regression', smallRows, testRows, 'regression');
      table(
        `Regression: ${smallRows.toLocaleString('en')} × ${FEATURES} rows`,
        [
          ['modelloop gradient-boosted trees', () => runOurs(files, 'gbdt')],
          ...(have('xgboost') ? ([['XGBoost hist', () => runPeer(files, 'xgboost')]] as [string, () => Run][]) : []),
          ...(have('sklearn') ? ([['scikit-learn HistGradientBoostingRegressor', () => runPeer(files, 'sklearn-hgb')]] as [string, () => Run][]) : []),
        ],
        ['rmse', 'r2'],
      );
      table(
        `Ridge regression: the same ${smallRows.toLocaleString('en')} rows`,
        [
          ['modelloop ridge regression (Cholesky)', () => runOurs(files, 'linear')],
          ...(have('sklearn') ? ([['scikit-learn Ridge, scaled', () => runPeer(files, 'sklearn-ridge')]] as [string, () => Run][]) : []),
        ],
        ['rmse', 'r2'],
      );
    }
    if (cases.includes('multiclass')) {
      const files = writeCase(dir, 'multiclass', smallRows, testRows, 'multiclass');
      table(
        `Multiclass (3 classes): ${smallRows.toLocaleString('en')} × ${FEATURES} rows`,
        [
          ['modelloop gradient-boosted trees', () => runOurs(files, 'gbdt')],
          ...(have('xgboost') ? ([['XGBoost hist', () => runPeer(files, 'xgboost')]] as [string, () => Run][]) : []),
          ...(have('sklearn') ? ([['scikit-learn HistGradientBoostingClassifier', () => runPeer(files, 'sklearn-hgb')]] as [string, () => Run][]) : []),
        ],
        ['accuracy', 'logloss'],
      );
      table(
        `Multinomial logistic regression: the same ${smallRows.toLocaleString('en')} rows`,
        [
          ['modelloop logistic regression (L-BFGS)', () => runOurs(files, 'linear')],
          ...(have('sklearn') ? ([['scikit-learn LogisticRegression(lbfgs), scaled', () => runPeer(files, 'sklearn-logistic')]] as [string, () => Run][]) : []),
        ],
        ['accuracy', 'logloss'],
      );
    }
    if (cases.includes('datasets')) publicDatasets(dir, have('sklearn'), out);
    out(loadLine('ended'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (write) writeSection('Trainers against XGBoost and scikit-learn', lines.join('\n'));
}

/** Other work on the machine slows every trainer, and multi-threaded peers most: say how busy it was. */
function machineBusy(): boolean {
  return loadavg()[0]! > 0.5 * availableParallelism();
}

function loadLine(when: 'began' | 'ended'): string {
  const load = loadavg()[0]!;
  const busy = machineBusy();
  return `1-minute load average when the run ${when}: ${load.toFixed(1)}${busy ? ' — the machine was shared, so these timings are provisional (XGBoost\'s two threads suffer most)' : ''}.`;
}

/** modelloop's model selection against scikit-learn's default models, on the data sets python3-sklearn ships. */
function publicDatasets(dir: string, haveSklearn: boolean, out: (line?: string) => void): void {
  out('### Public data sets: the selected model against scikit-learn defaults on the same split');
  out();
  if (!haveSklearn) {
    out('Not run: scikit-learn is not installed (apt-get install -y python3-sklearn); its data sets ship inside it.');
    out();
    return;
  }
  const listed = python(['datasets', dir]);
  if (!listed.ok) {
    out(`Not run: ${listed.stderr.trim().split('\n').pop()}`);
    out();
    return;
  }
  const sets = JSON.parse(listed.stdout) as { name: string; task: 'classification' | 'regression'; target: string; path: string; rows: number }[];
  out('Seeded 80/20 split (stratified for classification), the one modelloop trains on; the metric is the definition\'s default');
  out('primary metric (accuracy; rmse for regression). "gap" is modelloop\'s shortfall against the best peer, relative to it.');
  out();
  out('| data set | rows | modelloop candidates | selected | best scikit-learn default | gap |');
  out('|---|---|---|---|---|---|');
  for (const set of sets) {
    const bytes = readFileSync(set.path);
    const definition = { task: set.task, target: set.target } as const;
    const contract = inferContract(readDrop(bytes, `${set.name}.csv`), definition, set.name);
    const job = { model: set.name, definition, contract, datasets: [{ datasetId: set.name, file: `${set.name}.csv`, bytes }], seed: 42, holdoutFraction: 0.2 };
    const control = { progress: () => {}, cancelled: () => false };
    const result = trainModel(job, control);
    const { prepared } = trainCandidates(job, control);
    const compare = python(['compare', JSON.stringify({ ...set, train: Array.from(prepared.split.train), test: Array.from(prepared.split.evaluation) })]);
    const metric = result.primaryMetric;
    const higher = metric !== 'rmse' && metric !== 'mae' && metric !== 'logloss';
    const ours = result.metrics[metric]!;
    const candidates = result.candidates.map((c) => `${c.trainer} ${c.metrics[metric]!.toFixed(4)}`).join(', ');
    if (!compare.ok) {
      out(`| ${set.name} | ${set.rows} | ${candidates} | ${result.trainer} | not run: ${compare.stderr.trim().split('\n').pop()} | |`);
      continue;
    }
    const peers = Object.entries(JSON.parse(compare.stdout) as Record<string, Record<string, number>>);
    const [bestName, bestMetrics] = peers.reduce((a, b) => ((higher ? b[1][metric]! > a[1][metric]! : b[1][metric]! < a[1][metric]!) ? b : a));
    const best = bestMetrics[metric]!;
    const gap = higher ? (best - ours) / best : (ours - best) / best;
    out(`| ${set.name} | ${set.rows} | ${candidates} | ${result.trainer} (${metric} ${ours.toFixed(4)}) | ${bestName} ${best.toFixed(4)} | ${(gap * 100).toFixed(2)}% ${gap <= 0.01 ? '(within 1%)' : '(**more than 1%**)'} |`);
  }
  out();
}

main();
