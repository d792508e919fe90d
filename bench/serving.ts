import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import { freePort, startAzurite, startCosmos, COSMOS_EMULATOR_KEY } from '../host/emulators';
import type { DataContract } from '../shared/data/data-contract';
import { numericStats } from '../shared/data/data-contract';
import { exportPipeline } from '../shared/onnx/export-pipeline';
import { OUTPUT_LABEL, OUTPUT_PROBABILITIES, type PipelineSpec } from '../shared/onnx/pipeline-spec';
import { BlobStore } from '../shared/platform/blob-store';
import { CosmosRegistry } from '../shared/registry/cosmos-registry';
import type { SignatureField, VersionDocument } from '../shared/registry/documents';
import { artifactPath, manifestPath, versionDocumentFromManifest, type Manifest } from '../shared/registry/manifest';
import { sessionOptions } from '../shared/serving/session-options';
import { fitPreprocessing, type TrainingTable } from '../shared/training/design-matrix';
import { fitGbdt, type GbdtOptions } from '../shared/training/gbdt';
import { classificationMetrics } from '../shared/training/metrics';
import { predictPipeline, treeData } from '../shared/training/predict-pipeline';
import { TRAINING_SEED } from '../shared/training/retrain';
import { mulberry32, splitRows } from '../shared/training/split';
import { writeSection } from './report';

/**
 * Serving under load: `POST /models/{model}/predict` through the local Functions host (a child
 * process, the same compiled functions Azure loads), with and without micro-batching, against a
 * baseline measured in the same run — a bare node:http server (also a child process) that parses
 * the same JSON and calls the same ONNX Runtime session directly. Models: the trained logistic
 * pipeline (examples/churn.csv through the product) and a 300-tree GBDT trained in this process by
 * the product's GBDT trainer on seeded synthetic rows (30,000 × 20 float features, up to 72 leaves
 * a tree), exported by the product's ONNX exporter (TreeEnsembleClassifier, ~1 MB) and registered
 * as a trained version. Also cold start (process start → first answered prediction of the GBDT)
 * and the import time of the scoring function's module graph. Writes its section of
 * docs/benchmarks.md and keeps the others. `--write-gbdt [FILE]` writes the GBDT's ONNX file only.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/serving.js` (`--quick` for shorter runs;
 * `--cold-start [--runs N] [--against DIR [--against-label TEXT]] [--cpu-prof DIR]` for the cold start alone:
 * against another checkout's build, started in the same rounds, and with a CPU profile of one start;
 * `--throughput [--rounds N] [--seconds S] [--against DIR] [--cpu-prof DIR]` for the logistic model at concurrency 64 alone;
 * `--batching [--rounds N] [--seconds S] [--cpu-prof DIR]` for the GBDT at concurrency 64, micro-batching on and off, alone).
 */
const root = resolve(__dirname, '..', '..');
const quick = process.argv.includes('--quick');
const DURATION_S = quick ? 2 : 5;
const LATENCY_REQUESTS = quick ? 300 : 1500;
const COLD_RUNS = 5;
/** Rounds of each throughput cell, the servers interleaved; a cell reports its median round. */
const THROUGHPUT_ROUNDS = quick ? 1 : 3;
const FEATURES = 20;
const GBDT_ROWS = 30_000;
const GBDT_TREES = 300;
/** 72 leaves a tree put the exported file near 1 MB (64 gave 0.89 MB). */
const GBDT_LEAVES = 72;
/** The product's default HOLDOUT_FRACTION. */
const GBDT_HOLDOUT = 0.2;

// ---------------------------------------------------------------- the trained GBDT

/** The GBDT version as the product registers a trained one: its ONNX bytes and its manifest. */
interface TrainedGbdt {
  readonly bytes: Uint8Array;
  readonly manifest: Manifest;
  readonly contract: DataContract;
  readonly seconds: number;
}

/**
 * Seeded synthetic rows: f0..f19 uniform in [-1, 1], an integer label drawn from a nonlinear
 * score of the first nine (a square, products, a sine and a cosine), so that trees have real splits to find.
 */
function gbdtTable(): { table: TrainingTable; y: Int32Array } {
  const random = mulberry32(42);
  const columns = Array.from({ length: FEATURES }, () => new Float64Array(GBDT_ROWS));
  const y = new Int32Array(GBDT_ROWS);
  for (let i = 0; i < GBDT_ROWS; i++) {
    for (let f = 0; f < FEATURES; f++) columns[f]![i] = random() * 2 - 1;
    const x = (f: number): number => columns[f]![i]!;
    const score = 2 * x(0) - 1.5 * x(1) ** 2 + Math.sin(3 * x(2)) + 2 * x(3) * x(4) + 0.5 * x(5) + Math.cos(4 * x(6)) * x(7) + Math.abs(x(8)) - 0.5;
    y[i] = random() < 1 / (1 + Math.exp(-3 * score)) ? 1 : 0;
  }
  const table: TrainingTable = { rows: GBDT_ROWS, columns: Object.fromEntries(columns.map((c, f) => [`f${f}`, c])), target: Array.from(y) };
  return { table, y };
}

/**
 * Trains the GBDT with the product's trainer and exports it with the product's exporter, as
 * `trainModel` does for a `gbdt` candidate, except for the rounds: exactly GBDT_TREES, with no
 * early stopping (which needs validation rows), and GBDT_LEAVES leaves, for a file near 1 MB.
 */
function trainGbdt(model: string): TrainedGbdt {
  const { table, y } = gbdtTable();
  const contract: DataContract = {
    target: { name: 'y', type: 'label', labelType: 'integer' },
    features: Object.fromEntries(Object.keys(table.columns).map((name) => [name, { type: 'number' }])),
    excluded: {},
    source: 'bench',
  };
  const split = splitRows(table.rows, GBDT_HOLDOUT, TRAINING_SEED, y);
  const features = fitPreprocessing(contract, table, split.train);
  const options: GbdtOptions = { objective: 'binary', rounds: GBDT_TREES, learningRate: 0.1, maxLeaves: GBDT_LEAVES, minSamplesLeaf: 20, l2: 1, maxBins: 255, seed: TRAINING_SEED };
  const started = performance.now();
  const fitted = fitGbdt(treeData(features, table, split.train), Float64Array.from(split.train, (r) => y[r]!), options);
  const seconds = (performance.now() - started) / 1000;
  if (fitted.trees.length !== GBDT_TREES) throw new Error(`The GBDT trainer made ${fitted.trees.length} trees, not ${GBDT_TREES}.`);
  const labels = [0, 1];
  const trainer = 'gradient-boosted-trees';
  const spec: PipelineSpec = {
    name: model,
    description: `modelloop ${model}: gradient-boosted trees on ${split.train.length} rows`,
    features,
    model: { kind: 'tree-ensemble-classifier', labels, baseScores: fitted.baseScores, trees: fitted.trees },
  };
  const bytes = exportPipeline({ ...spec, metadata: { 'modelloop.model': model, 'modelloop.trainer': trainer } });
  const metrics = classificationMetrics(Int32Array.from(split.evaluation, (r) => y[r]!), predictPipeline(spec, table, split.evaluation), labels.length);
  const manifest: Manifest = {
    format: 'modelloop.manifest/1',
    model,
    version: 1,
    createdAt: new Date().toISOString(),
    task: 'classification',
    source: 'trained',
    trainer,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    inputs: features.map((f) => ({ name: f.name, type: 'float', shape: [-1, 1], featureType: 'number', nullable: false })),
    outputs: [
      { name: OUTPUT_LABEL, type: 'int64', shape: [-1] },
      { name: OUTPUT_PROBABILITIES, type: 'float', shape: [-1, labels.length] },
    ],
    ignoredInputs: [contract.target.name],
    labels,
    primaryMetric: 'accuracy',
    metrics,
    candidates: [{ trainer, params: { ...options, trees: fitted.trees.length, roundsRun: fitted.rounds, stoppedEarly: fitted.stoppedEarly }, metrics }],
    seed: TRAINING_SEED,
    datasets: [],
    trainingRows: split.train.length,
    evaluationRows: split.evaluation.length,
    evaluatedOnTraining: split.evaluatedOnTraining,
    featureStats: Object.fromEntries(features.map((f) => [f.name, numericStats('number', Float64Array.from(split.train, (r) => (table.columns[f.name] as Float64Array)[r]!))])),
    contract,
    servesPredict: true,
    trainingSeconds: seconds,
  };
  return { bytes, manifest, contract, seconds };
}

/**
 * Registers the GBDT as version 1 the way a retrain run does (artifact, manifest, then the version
 * document), and only then the model with `production` on it.
 */
async function registerGbdt(blobs: BlobStore, registry: CosmosRegistry, gbdt: TrainedGbdt): Promise<void> {
  const { model } = gbdt.manifest;
  await blobs.write('models', artifactPath(model, 1), gbdt.bytes, { contentType: 'application/octet-stream' });
  await blobs.writeJson('models', manifestPath(model, 1), gbdt.manifest);
  await registry.upsertVersion(versionDocumentFromManifest(gbdt.manifest));
  const now = new Date().toISOString();
  await registry.createModel({
    model, id: 'model', type: 'model', definition: { task: 'classification', target: gbdt.contract.target.name, trainers: ['gbdt'] },
    contract: gbdt.contract, aliases: { production: 1 }, latestVersion: 1, createdAt: now, updatedAt: now,
  });
}

/** A single-row `instances` request in the GBDT's signature: each input a number in the training range. */
function gbdtBody(gbdt: TrainedGbdt): string {
  const random = mulberry32(7);
  return JSON.stringify({ instances: [Object.fromEntries(gbdt.manifest.inputs.map((f) => [f.name, Number((random() * 2 - 1).toFixed(3))]))] });
}

/** What the report says the GBDT is. */
function describeGbdt(gbdt: TrainedGbdt): string {
  const rows = `${gbdt.manifest.trainingRows.toLocaleString('en-US')} of ${GBDT_ROWS.toLocaleString('en-US')} seeded synthetic rows × ${FEATURES} float features`;
  return `${GBDT_TREES} trees of up to ${GBDT_LEAVES} leaves, ${(gbdt.bytes.byteLength / 1e6).toFixed(2)} MB, trained on ${rows}`;
}

// ---------------------------------------------------------------- child processes

type Env = Record<string, string>;

/**
 * `--host` children: the local Functions host only (the parent runs the emulators), logging errors only,
 * as a load test wants. An inline script, not this file, so a cold start loads what a host loads and
 * nothing of the bench (the load generator, the GBDT training).
 */
function hostChildScript(appRoot: string): string {
  return `const started = performance.now();
const { FunctionsHost } = require(${JSON.stringify(join(appRoot, 'dist', 'host', 'functions-host.js'))});
const host = new FunctionsHost({
  scriptRoot: ${JSON.stringify(appRoot)},
  port: Number(process.env.BENCH_PORT),
  storageConnection: process.env.AzureWebJobsStorage,
  hostId: 'bench-' + require('node:crypto').randomBytes(4).toString('hex'),
  localSettings: false,
  log: (entry) => { if (entry.level === 'error' || entry.level === 'critical') process.stderr.write(entry.message + '\\n'); },
});
host.load().then(() => host.start()).then(() => process.stdout.write('READY ' + host.url + ' ' + (performance.now() - started).toFixed(1) + '\\n'));
// A graceful stop, so that --cpu-prof can write its profile.
process.on('SIGTERM', () => host.stop().then(() => process.exit(0)));`;
}

/** `--baseline`: node:http, the same JSON, the same sessions called directly. */
async function runBaselineChild(): Promise<void> {
  const models = JSON.parse(readFileSync(process.env.BENCH_MODELS!, 'utf8')) as Record<string, { file: string; inputs: SignatureField[]; labels: (string | number)[] }>;
  const sessions = new Map<string, { session: ort.InferenceSession; inputs: SignatureField[]; labels: string[] }>();
  for (const [name, m] of Object.entries(models)) {
    sessions.set(name, { session: await ort.InferenceSession.create(readFileSync(m.file), sessionOptions()), inputs: m.inputs, labels: m.labels.map(String) });
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const model = sessions.get((req.url ?? '').split('/')[2] ?? '');
      if (!model) {
        res.writeHead(404).end();
        return;
      }
      const rows = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { instances: Record<string, unknown>[] }).instances;
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of model.inputs) {
        if (input.type === 'string') feeds[input.name] = new ort.Tensor('string', rows.map((r) => String(r[input.name])), [rows.length, 1]);
        else feeds[input.name] = new ort.Tensor('float32', Float32Array.from(rows, (r) => Number(r[input.name])), [rows.length, 1]);
      }
      model.session.run(feeds).then((out) => {
        const p = out.probabilities!.data as Float32Array;
        const k = model.labels.length;
        const body = JSON.stringify({
          predictions: Array.from(out.label!.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? Number(v) : v)),
          probabilities: rows.map((_, i) => Object.fromEntries(model.labels.map((l, c) => [l, p[i * k + c]]))),
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      }, (err: Error) => res.writeHead(500).end(err.message));
    });
  });
  server.listen(Number(process.env.BENCH_PORT), '127.0.0.1', () => process.stdout.write(`READY http://127.0.0.1:${process.env.BENCH_PORT} 0\n`));
}

interface Child {
  readonly process: ChildProcess;
  /** What the child wrote so far (its log: errors only for a host). */
  output(): string;
  readonly url: string;
  readonly startMs: number;
  stop(): Promise<void>;
}

/**
 * `appRoot`: the build a `--host` child runs (another checkout's, for `--against`); `onSpawn`: called
 * with the child's port as soon as it is spawned, before it listens (a cold start's client).
 */
async function startChild(mode: '--host' | '--baseline', env: Env, nodeOptions: string[] = [], appRoot = root, onSpawn?: (port: number) => void): Promise<Child> {
  const port = await freePort();
  const spawnedAt = performance.now();
  const args = mode === '--host' ? [...nodeOptions, '-e', hostChildScript(appRoot)] : [...nodeOptions, __filename, mode];
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env, BENCH_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn?.(port);
  let output = '';
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = await new Promise<string>((done, fail) => {
    child.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
      const found = /READY (\S+)/.exec(output);
      if (found) done(found[1]!);
    });
    child.once('exit', (code) => fail(new Error(`${mode} exited with ${code}:\n${output}`)));
  });
  return {
    process: child,
    output: () => output,
    url,
    startMs: performance.now() - spawnedAt,
    stop: () =>
      new Promise<void>((done) => {
        // A child killed by a signal has a signalCode and no exitCode; either means it is gone.
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGKILL');
      }),
  };
}

// ---------------------------------------------------------------- measuring

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function median(xs: readonly number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

/** `min–max ms` of times in ms, as the tables show them. */
function msRange(xs: readonly number[]): string {
  return `${ms(Math.min(...xs))}–${ms(Math.max(...xs))} ms`;
}

/** Sequential single-row requests over one keep-alive connection: latency at low load. */
async function lowLoad(url: string, body: string): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 100; i++) await post(url, body);
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    const started = performance.now();
    const reply = await post(url, body);
    samples.push(performance.now() - started);
    if (reply.status !== 200) throw new Error(`${url} answered ${reply.status}: ${reply.text}`);
  }
  samples.sort((a, b) => a - b);
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

interface Throughput {
  readonly rps: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * The load generator: wrk (C, one thread) when it is installed (Debian's `wrk`), else autocannon (JavaScript, in
 * this process). `--client autocannon|wrk` chooses. On two cores the client's own cost per request matters:
 * autocannon spends about as much CPU on a request as the server under test, so at concurrency 64 a fast server
 * waits for it (the batching host idled 15% of the time under autocannon) and the figure is partly the client's.
 */
let chosenClient: 'wrk' | 'autocannon' | undefined;

/** Chosen on first use, so that the bench's own children (the baseline server) never look for wrk. */
function client(): 'wrk' | 'autocannon' {
  if (chosenClient) return chosenClient;
  const asked = argument('--client');
  if (asked !== undefined && asked !== 'wrk' && asked !== 'autocannon') throw new Error(`--client ${asked}: use wrk or autocannon.`);
  return (chosenClient = asked ?? (spawnSync('wrk', ['-v']).error ? 'autocannon' : 'wrk'));
}

/** The load generator as the report names it. */
function clientName(): string {
  return client() === 'wrk' ? 'wrk (one thread)' : 'autocannon (in the bench process)';
}

async function throughput(url: string, body: string, connections: number, seconds = DURATION_S): Promise<Throughput> {
  if (client() === 'wrk') return wrkThroughput(url, body, connections, seconds);
  const result = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections, duration: seconds });
  const errors = result.errors + result.timeouts + result.non2xx;
  return { rps: result.requests.average, errors, p50: result.latency.p50, p99: result.latency.p99 };
}

/** wrk with one thread: its Lua script sets the request and prints the summary as one JSON line (latencies in µs). */
async function wrkThroughput(url: string, body: string, connections: number, seconds: number): Promise<Throughput> {
  const script = join(tmpdir(), `modelloop-wrk-${process.pid}.lua`);
  writeFileSync(script, [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(body)}`,
    'wrk.headers["Content-Type"] = "application/json"',
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format([[WRK {"requests":%d,"us":%d,"errors":%d,"p50":%d,"p99":%d}]] .. "\\n",',
    '    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,',
    '    latency:percentile(50), latency:percentile(99)))',
    'end',
  ].join('\n'));
  let output: string;
  try {
    output = await new Promise<string>((done, fail) => {
      const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
      child.once('error', fail);
      child.once('exit', (code) => (code === 0 ? done(text) : fail(new Error(`wrk exited with ${code}: ${text}`))));
    });
  } finally {
    rmSync(script, { force: true });
  }
  const line = /^WRK (\{.*\})$/m.exec(output);
  if (!line) throw new Error(`wrk printed no summary: ${output}`);
  const r = JSON.parse(line[1]!) as { requests: number; us: number; errors: number; p50: number; p99: number };
  return { rps: r.requests / (r.us / 1e6), errors: r.errors, p50: r.p50 / 1000, p99: r.p99 / 1000 };
}

/** The round with the median requests/s, with the errors of every round (a failed request counts wherever it happened). */
function medianRound(rounds: readonly Throughput[]): Throughput {
  const median = [...rounds].sort((a, b) => a.rps - b.rps)[(rounds.length - 1) >> 1]!;
  return { ...median, errors: rounds.reduce((sum, r) => sum + r.errors, 0) };
}

const ms = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(2));
const rps = (v: number): string => v.toFixed(0);

/**
 * Cold start: process start → first answered prediction of the ~1 MB GBDT (loaded from blob storage
 * on that request), COLD_RUNS times; and the import time of functions/score.js and everything it
 * requires, in a fresh process each time. With `profileDir`, one more start runs under `--cpu-prof`.
 */
interface ColdStartOptions {
  readonly common: Env;
  readonly path: string;
  readonly body: string;
  readonly children: Child[];
  readonly log: (line: string) => void;
  /** @default COLD_RUNS */
  readonly runs?: number;
  /** The build to start. @default this checkout */
  readonly appRoot?: string;
  readonly profileDir?: string | undefined;
}

/**
 * What a client of a cold instance sees: it sends the request from the moment the process is spawned,
 * trying the port every POLL_MS while it refuses connections (a bare TCP connect, so that the client
 * takes as little as it can of the cores the child is starting on), until the request is answered (a
 * 200; any other answer is an error). Resolves when the answer has arrived.
 */
async function firstAnswer(port: number, path: string, body: string): Promise<void> {
  for (;;) {
    const listening = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => done(true)).once('error', () => done(false));
      socket.once('connect', () => socket.destroy());
    });
    if (listening) {
      const reply = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      if (reply.status !== 200) throw new Error(`${path} answered ${reply.status}: ${await reply.text()}`);
      await reply.text();
      return;
    }
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

/** How often a cold start's client tries again while nothing listens. */
const POLL_MS = 2;

/** `promise`, marked as handled: it is awaited later, after other awaits, and may reject before then. */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Starts a host child with a cold start's client sending to it from the moment it is spawned; `answered` settles with its answer. */
async function startWithClient(options: ColdStartOptions, nodeOptions: string[] = []): Promise<{ child: Child; answered: Promise<void> }> {
  let answered: Promise<void> | undefined;
  const child = await startChild('--host', options.common, nodeOptions, options.appRoot, (port) => (answered = settledLater(firstAnswer(port, options.path, options.body))));
  options.children.push(child);
  return { child, answered: answered! };
}

/** Starts a host, waits for its first answer and stops it gracefully (so that it writes its module cache, or its CPU profile). */
async function answerAndStop(options: ColdStartOptions, nodeOptions: string[] = []): Promise<void> {
  const { child, answered } = await startWithClient(options, nodeOptions);
  await answered;
  await new Promise<void>((done) => {
    child.process.once('exit', () => done());
    child.process.kill('SIGTERM');
  });
}

async function coldStarts(options: ColdStartOptions) {
  const { common, log, runs = COLD_RUNS, appRoot = root, profileDir } = options;
  const cold: number[] = [];
  const hostReady: number[] = [];
  for (let run = 0; run < runs; run++) {
    const spawnedAt = performance.now();
    const { child, answered } = await startWithClient(options);
    hostReady.push(child.startMs);
    await answered;
    cold.push(performance.now() - spawnedAt);
    await child.stop();
    log(`cold start${appRoot === root ? '' : ` (${appRoot})`}${common.MODELLOOP_MODULE_CACHE === 'off' ? ' (no module cache)' : ''}: ${ms(cold.at(-1)!)} ms (host started after ${ms(child.startMs)} ms)`);
  }
  if (profileDir) {
    await answerAndStop(options, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
    log(`CPU profile of one cold start written to ${profileDir}`);
  }

  const imports: number[] = [];
  const probe = `const core = require(${JSON.stringify(join(appRoot, 'dist', 'host', 'core-api.js'))});` +
    'const receiver = { registerFunction() {}, registerHook() { return { dispose() {} }; }, systemLog() {} };' +
    `const t = process.hrtime.bigint(); core.loadWithCoreApi(receiver, () => require(${JSON.stringify(join(appRoot, 'dist', 'functions', 'score.js'))}));` +
    `process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
  for (let run = 0; run < runs; run++) {
    const out = await new Promise<string>((done) => {
      const child = spawn(process.execPath, ['-e', probe], { cwd: root, env: { ...process.env, ...common }, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
      child.once('exit', () => done(text));
    });
    imports.push(Number(out));
  }
  return { cold, hostReady, imports };
}

// ---------------------------------------------------------------- the run

/** Trains the logistic model the product's way (examples/churn.csv dropped through a host child) and returns version 1. */
async function trainLogistic(common: Env, children: Child[], registry: CosmosRegistry): Promise<VersionDocument> {
  const first = await startChild('--host', common);
  children.push(first);
  const admin = (method: string, path: string, body: string | Buffer, type = 'application/json') => fetch(`${first.url}${path}`, { method, body, headers: { 'content-type': type } });
  await admin('PUT', '/models/churn', JSON.stringify({ task: 'classification', target: 'churned', trainers: ['linear'] }));
  await admin('PUT', '/datasets/churn/churn.csv', readFileSync(join(root, 'examples', 'churn.csv')), 'text/csv');
  const trainedBy = Date.now() + 60_000;
  for (;;) {
    const view = (await (await fetch(`${first.url}/models/churn`)).json()) as { aliases?: Record<string, number> };
    if (view.aliases?.production === 1) break;
    if (Date.now() > trainedBy) throw new Error('churn version 1 was not trained within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  await first.stop();
  children.splice(children.indexOf(first), 1);
  return (await registry.getVersion('churn', 1))!;
}


/** What every mode of this bench runs against: the emulators, a work folder, the registry, and the children it starts. */
interface BenchStack {
  readonly work: string;
  /** App settings every child host gets. */
  readonly common: Env;
  /** Children started by the mode, stopped when it ends. */
  readonly children: Child[];
  readonly blobs: BlobStore;
  readonly registry: CosmosRegistry;
  readonly log: (line: string) => void;
}

/** Starts Azurite and the Cosmos server, runs `body`, then stops every child and the emulators and removes the work folder. */
async function withBenchStack(prefix: string, body: (stack: BenchStack) => Promise<void>): Promise<void> {
  const [azurite, cosmos] = await Promise.all([startAzurite(), startCosmos()]);
  const work = mkdtempSync(join(tmpdir(), prefix));
  const common: Env = {
    AzureWebJobsStorage: azurite.connectionString,
    COSMOS_ENDPOINT: cosmos.endpoint,
    COSMOS_KEY: COSMOS_EMULATOR_KEY,
    COSMOS_DATABASE: 'modelloop',
    COSMOS_CONTAINER: 'registry',
    FUNCTIONS_WORKER_RUNTIME: 'node',
  };
  const children: Child[] = [];
  try {
    const blobs = new BlobStore(azurite.connectionString);
    await blobs.ensureContainers();
    const registry = new CosmosRegistry({ endpoint: cosmos.endpoint, key: COSMOS_EMULATOR_KEY, database: 'modelloop', container: 'registry' });
    await registry.initialise();
    await body({ work, common, children, blobs, registry, log: (line) => void process.stderr.write(`${line}\n`) });
  } finally {
    for (const child of children) await child.stop();
    await Promise.all([azurite.stop(), cosmos.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await withBenchStack('modelloop-bench-serving-', async ({ work, common, children, blobs, registry, log }) => {
    const gbdt = trainGbdt('gbdt');
    await registerGbdt(blobs, registry, gbdt);
    log(`GBDT: ${describeGbdt(gbdt)}, in ${gbdt.seconds.toFixed(1)} s; held-out accuracy ${gbdt.manifest.metrics.accuracy?.toFixed(4)}, AUC ${gbdt.manifest.metrics.auc?.toFixed(4)}`);

    // The logistic model, trained by the product from examples/churn.csv.
    const churnVersion = await trainLogistic(common, children, registry);
    log(`logistic: trained by ${churnVersion.trainer}, ${(await blobs.read('models', artifactPath('churn', 1)))!.bytes.byteLength} bytes`);

    const modelsFile = join(work, 'models.json');
    writeFileSync(join(work, 'churn.onnx'), (await blobs.read('models', artifactPath('churn', 1)))!.bytes);
    writeFileSync(join(work, 'gbdt.onnx'), gbdt.bytes);
    writeFileSync(modelsFile, JSON.stringify({
      churn: { file: join(work, 'churn.onnx'), inputs: churnVersion.inputs, labels: churnVersion.labels },
      gbdt: { file: join(work, 'gbdt.onnx'), inputs: gbdt.manifest.inputs, labels: gbdt.manifest.labels },
    }));

    const bodies = {
      logistic: JSON.stringify({ instances: [{ tenure_months: 2, monthly_charges: 95.5, contract: 'month-to-month', support_calls: 6, paperless: true }] }),
      gbdt: gbdtBody(gbdt),
    };
    const paths = { logistic: '/models/churn/predict', gbdt: '/models/gbdt/predict' };
    const CONCURRENCY = [1, 16, 64] as const;
    // The three servers are up side by side (an idle one takes no CPU) and measured in turn, cell by cell, for
    // THROUGHPUT_ROUNDS rounds; each cell is its median round. Measured one server after another, a drift of this
    // VM's speed over the minutes of the run went straight into the ratios between them.
    const baselineChild = await startChild('--baseline', { BENCH_MODELS: modelsFile });
    children.push(baselineChild);
    const withBatching = await startChild('--host', { ...common, MICRO_BATCHING: 'true' });
    children.push(withBatching);
    const withoutBatching = await startChild('--host', { ...common, MICRO_BATCHING: 'false' });
    children.push(withoutBatching);
    const servers = [
      { label: 'baseline', url: baselineChild.url },
      { label: 'host, micro-batching on', url: withBatching.url },
      { label: 'host, micro-batching off', url: withoutBatching.url },
    ];
    const rows: Measured[] = servers.map(() => ({ latency: {} as Measured['latency'], load: { logistic: {}, gbdt: {} } }));
    for (const model of ['logistic', 'gbdt'] as const) {
      for (const [i, server] of servers.entries()) {
        rows[i]!.latency[model] = await lowLoad(`${server.url}${paths[model]}`, bodies[model]);
        log(`${server.label} ${model}: p50 ${ms(rows[i]!.latency[model].p50)} ms, p99 ${ms(rows[i]!.latency[model].p99)} ms`);
      }
      for (const c of CONCURRENCY) {
        const rounds: Throughput[][] = servers.map(() => []);
        for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
          for (const [i, server] of servers.entries()) rounds[i]!.push(await throughput(`${server.url}${paths[model]}`, bodies[model], c));
        }
        for (const [i, server] of servers.entries()) {
          rows[i]!.load[model][c] = medianRound(rounds[i]!);
          log(`${server.label} ${model} c${c}: ${rounds[i]!.map((r) => rps(r.rps)).join(', ')} requests/s`);
        }
      }
    }
    const [baseline, batched, unbatched] = rows as [Measured, Measured, Measured];
    for (const child of [baselineChild, withBatching, withoutBatching]) await child.stop();

    // Defaults by measurement: GBDT at concurrency 64 for a few bounds on rows and delay.
    const sweep: { maxRows: number; delay: number; rps: number; p99: number }[] = [];
    for (const [maxRows, delay] of [[16, 0], [64, 0], [256, 0], [256, 1], [256, 2]] as const) {
      const child = await startChild('--host', { ...common, MICRO_BATCHING: 'true', BATCH_MAX_ROWS: String(maxRows), BATCH_MAX_DELAY_MS: String(delay) });
      children.push(child);
      await throughput(`${child.url}${paths.gbdt}`, bodies.gbdt, 64, 2);
      const r = await throughput(`${child.url}${paths.gbdt}`, bodies.gbdt, 64, Math.max(2, DURATION_S - 2));
      sweep.push({ maxRows, delay, rps: r.rps, p99: r.p99 });
      log(`sweep BATCH_MAX_ROWS=${maxRows} BATCH_MAX_DELAY_MS=${delay}: ${rps(r.rps)}/s, p99 ${ms(r.p99)} ms`);
      await child.stop();
    }

    const { cold, hostReady, imports } = await coldStarts({ common, path: paths.gbdt, body: bodies.gbdt, children, log });
    // The two floors of a cold start, for scale: ONNX Runtime alone, and with the SDKs the first prediction needs.
    const floor: number[] = [];
    const sdkFloor: number[] = [];
    await sdkFloorColdStart({ common, work, model: 'gbdt', body: bodies.gbdt }); // writes its module cache
    for (let run = 0; run < COLD_RUNS; run++) {
      floor.push(await bareColdStart(join(work, 'gbdt.onnx'), bodies.gbdt));
      sdkFloor.push(await sdkFloorColdStart({ common, work, model: 'gbdt', body: bodies.gbdt }));
    }
    log(`cold-start floors: bare ${floor.map(ms).join(', ')} ms; with the SDKs ${sdkFloor.map(ms).join(', ')} ms`);

    writeReport({ baseline, batched, unbatched, sweep, cold, hostReady, imports, floor, sdkFloor, gbdt: describeGbdt(gbdt), gbdtBytes: gbdt.bytes.byteLength, trainer: churnVersion.trainer });
  });
}

type ModelKey = 'logistic' | 'gbdt';
interface Measured {
  latency: Record<ModelKey, { p50: number; p99: number }>;
  load: Record<ModelKey, Record<number, Throughput>>;
}
interface Report {
  baseline: Measured;
  batched: Measured;
  unbatched: Measured;
  sweep: { maxRows: number; delay: number; rps: number; p99: number }[];
  cold: number[];
  hostReady: number[];
  imports: number[];
  floor: number[];
  sdkFloor: number[];
  /** What the GBDT is, from {@link describeGbdt}. */
  gbdt: string;
  gbdtBytes: number;
  trainer: string;
}

/** The value after `name` on the command line. */
function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

/** `--cpu-prof [DIR]`, `--against DIR` (another build to measure in the same rounds) and `--against-label TEXT`. */
function comparisonOptions(): { profileDir: string | undefined; against: string | undefined; againstLabel: string } {
  const profileDir = process.argv.includes('--cpu-prof') ? resolve(argument('--cpu-prof') ?? 'cpu-profiles') : undefined;
  const against = argument('--against') !== undefined ? resolve(argument('--against')!) : undefined;
  if (against && !existsSync(join(against, 'dist', 'host', 'functions-host.js'))) throw new Error(`--against ${against}: no dist/host/functions-host.js there; build it first.`);
  return { profileDir, against, againstLabel: argument('--against-label') ?? 'another build' };
}

/**
 * `--cold-start [--runs N] [--against DIR] [--cpu-prof DIR]`: the cold start alone (a minute, not the
 * whole load run), beside its floor and, with `--against`, another build of the app (a checkout
 * without the change under test), all measured in the same rounds — a bare Node process that loads ONNX Runtime, creates the session
 * from the same file and answers one HTTP request. Writes its own section of docs/benchmarks.md.
 */
async function coldStartOnly(): Promise<void> {
  const { profileDir, against, againstLabel } = comparisonOptions();
  const runs = Number(argument('--runs') ?? COLD_RUNS);
  await withBenchStack('modelloop-bench-cold-', async ({ work, common, children, blobs, registry, log }) => {
    const gbdt = trainGbdt('gbdt');
    await registerGbdt(blobs, registry, gbdt);
    log(`GBDT: ${describeGbdt(gbdt)}, in ${gbdt.seconds.toFixed(1)} s`);
    const body = gbdtBody(gbdt);

    const modelFile = join(work, 'gbdt.onnx');
    writeFileSync(modelFile, gbdt.bytes);
    // Rounds interleave the floor, the other build (--against) and this one, so that a machine whose
    // load drifts during the run weighs on all of them alike.
    const floor: number[] = [];
    const other = { cold: [] as number[], hostReady: [] as number[], imports: [] as number[] };
    const own = { cold: [] as number[], hostReady: [] as number[], imports: [] as number[] };
    const uncached = { cold: [] as number[], hostReady: [] as number[] };
    const path = '/models/gbdt/predict';
    // The host's module cache as any earlier start leaves it (written when that start stops, or a few seconds in).
    await answerAndStop({ common, path, body, children, log });
    const sdkFloor: number[] = [];
    await sdkFloorColdStart({ common, work, model: 'gbdt', body }); // writes its module cache, as the host's start above did
    for (let round = 0; round < runs; round++) {
      floor.push(await bareColdStart(modelFile, body));
      sdkFloor.push(await sdkFloorColdStart({ common, work, model: 'gbdt', body }));
      if (against) {
        const measured = await coldStarts({ common, path, body, children, log, runs: 1, appRoot: against });
        for (const key of ['cold', 'hostReady', 'imports'] as const) other[key].push(...measured[key]);
      }
      const measured = await coldStarts({ common, path, body, children, log, runs: 1, profileDir: round === runs - 1 ? profileDir : undefined });
      for (const key of ['cold', 'hostReady', 'imports'] as const) own[key].push(...measured[key]);
      const first = await coldStarts({ common: { ...common, MODELLOOP_MODULE_CACHE: 'off' }, path, body, children, log, runs: 1 });
      for (const key of ['cold', 'hostReady'] as const) uncached[key].push(...first[key]);
    }
    log(`floor (bare node:http + ONNX Runtime): ${floor.map(ms).join(', ')} ms`);
    log(`floor with the SDKs: ${sdkFloor.map(ms).join(', ')} ms`);

    // Both ratios to the other build: of the medians, and the median of the rounds' own ratios, which a drift
    // of the machine's speed between rounds moves less (the two builds of a round start seconds apart).
    const versusCells = (xs: number[], ys: number[] | undefined): string =>
      ys ? ` ${(median(xs) / median(ys)).toFixed(2)} | ${median(xs.map((x, i) => x / ys[i]!)).toFixed(2)} |` : '';
    const rows = (label: string, r: typeof own, versus?: typeof own): string[] => [
      `| ${label}: process start → first answered prediction | ${ms(median(r.cold))} ms | ${msRange(r.cold)} | ${(median(r.cold) / median(floor)).toFixed(2)} |${versusCells(r.cold, versus?.cold)}`,
      `| ${label}: process start → host started | ${ms(median(r.hostReady))} ms | ${msRange(r.hostReady)} | |${versusCells(r.hostReady, versus?.hostReady)}`,
      `| ${label}: import of \`functions/score.js\` and its module graph | ${ms(median(r.imports))} ms | ${msRange(r.imports)} | |${versusCells(r.imports, versus?.imports)}`,
    ];
    const previous = previousColdStart();
    writeSection(COLD_SECTION, [
      `Measured by \`node dist/bench/serving.js --cold-start${against ? ' --against <build>' : ''}${runs !== COLD_RUNS ? ` --runs ${runs}` : ''}\` (\`bench/serving.ts\`) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version},`,
      `${cpus().length} cores; load average when the run ended: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min). Each start is a fresh`,
      'process; the emulators (Azurite, the Cosmos server) run in the parent and are already up, as Storage and Cosmos DB are in Azure.',
      `The client tries the port from the moment the process is spawned, every ${POLL_MS} ms while it refuses connections (a bare TCP`,
      'connect), then sends the prediction request; its answer ends the measure (the floor\'s too). "Host started" is when',
      'the host has also started its queue, blob and timer triggers, which it does after it listens.',
      "The model is a GBDT trained by modelloop's GBDT trainer and exported by its ONNX exporter, registered as a trained version",
      `(${describeGbdt(gbdt)}), read from blob storage on the first request.`,
      'Floor: a bare Node process that requires onnxruntime-node, creates the session from the same file on disk and answers one',
      'HTTP request with it: what any Node server needs before its first ONNX prediction.',
      'Floor with the SDKs: the same, plus what the first prediction of any server on the contract\'s services needs, and nothing',
      'else, in the best order: it loads the Cosmos DB SDK through the same module cache (with the same ONNX Runtime head start',
      'in a worker thread as the app) and sends the model document\'s read at once; loads the Blob SDK and, when the read is back,',
      'reads the version document and the model\'s bytes; loads @azure/functions, zod and ONNX Runtime and listens meanwhile;',
      'creates the session as soon as the bytes are in. No host, no app code, no checks, every network wait overlapped with',
      'loading: a host on these SDKs cannot start faster than this.',
      'The local host resolves and compiles modules with what an earlier start wrote to its module cache (`host/module-cache.ts`:',
      'resolved paths and V8 bytecode); before the rounds one start is answered and stopped, as any earlier `npm start` or test',
      'run leaves it (a rebuild invalidates only the files that changed). "no module cache" is a first start',
      '(`MODELLOOP_MODULE_CACHE=off`). The import row loads `functions/score.js` without the host, and so without the cache, as the',
      'Azure worker does.',
      ...(against ? [`Against: the same tree built without this change (${againstLabel}), started in the same rounds.`] : []),
      '',
      `| measure | median of ${runs} | min–max | ÷ floor |${against ? ' ÷ against (medians) | ÷ against (median of per-round ratios) |' : ''}`,
      `|---|---|---|---|${against ? '---|---|' : ''}`,
      `| floor: bare node:http + ONNX Runtime, process start → first answer | ${ms(median(floor))} ms | ${msRange(floor)} | 1.00 |${against ? ' | |' : ''}`,
      `| floor with the SDKs: + @azure/functions, zod, the Cosmos DB and Blob reads, process start → first answer | ${ms(median(sdkFloor))} ms | ${msRange(sdkFloor)} | ${(median(sdkFloor) / median(floor)).toFixed(2)} |${against ? ' | |' : ''}`,
      ...(against ? rows('against', other, other) : []),
      ...rows('host', own, against ? other : undefined),
      `| host, no module cache: process start → first answered prediction | ${ms(median(uncached.cold))} ms | ${msRange(uncached.cold)} | ${(median(uncached.cold) / median(floor)).toFixed(2)} |${versusCells(uncached.cold, against ? other.cold : undefined)}`,
      `| host, no module cache: process start → host started | ${ms(median(uncached.hostReady))} ms | ${msRange(uncached.hostReady)} | |${versusCells(uncached.hostReady, against ? other.hostReady : undefined)}`,
      ...(previous ? ['', `The run before this one (same command; its own conditions): ${previous}.`] : []),
    ].join('\n'));
    log(`Wrote the "${COLD_SECTION}" section of docs/benchmarks.md.`);
  });
}

/** The floor of a cold start: process start → first answer of a bare node:http server around one ONNX Runtime session. */
async function bareColdStart(modelFile: string, body: string): Promise<number> {
  const script = `const ort = require('onnxruntime-node');
const http = require('node:http');
ort.InferenceSession.create(require('node:fs').readFileSync(${JSON.stringify(modelFile)})).then((session) => {
  http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const row = JSON.parse(Buffer.concat(chunks).toString()).instances[0];
      const feeds = {};
      for (const name of session.inputNames) feeds[name] = new ort.Tensor('float32', Float32Array.of(Number(row[name])), [1, 1]);
      session.run(feeds).then((out) => res.end(JSON.stringify({ predictions: Array.from(out.label.data, Number) })));
    });
  }).listen(Number(process.env.BENCH_PORT), '127.0.0.1', () => process.stdout.write('READY\\n'));
});`;
  return timeFirstAnswer({ script, env: {}, body, name: 'the bare server' });
}

/**
 * Process start → first answer of `node -e script`, a server listening on BENCH_PORT, which is then killed
 * (`lingerMs` after its answer, for a server that still writes something then).
 */
async function timeFirstAnswer(options: { script: string; env: Env; body: string; name: string; lingerMs?: number }): Promise<number> {
  const port = await freePort();
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ['-e', options.script], { cwd: root, env: { ...process.env, ...options.env, BENCH_PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const exited = new Promise<never>((_, fail) => child.once('exit', (code) => fail(new Error(`${options.name} exited with ${code}`))));
    await Promise.race([firstAnswer(port, '/', options.body), exited]);
    return performance.now() - spawnedAt;
  } finally {
    if (options.lingerMs) await new Promise((r) => setTimeout(r, options.lingerMs));
    child.kill('SIGKILL');
  }
}

/**
 * The floor with the SDKs: process start → first answer of a bare node:http server that does only what the
 * first prediction of any server built on the contract's services must, in the best order: it loads the
 * Cosmos DB SDK (through the same module cache, with the same ONNX Runtime head start in a worker thread as
 * the app) and sends the model document's read at once; loads the Blob SDK and, when that read is back, reads
 * the version document and the model's bytes; meanwhile loads @azure/functions, zod and ONNX Runtime and
 * listens; creates the session as soon as the bytes are in, and answers. No schema, no check, no host, no
 * app, every wait on the network overlapped with loading: the least the host's cold start can come to here.
 */
async function sdkFloorColdStart(options: { common: Env; work: string; model: string; body: string }): Promise<number> {
  const { common, work, model, body } = options;
  const script = `const { installModuleCache, ModuleCache } = require(${JSON.stringify(join(root, 'dist', 'host', 'module-cache.js'))});
const cache = installModuleCache(new ModuleCache(${JSON.stringify(join(work, 'sdk-floor.cache'))}, 'sdk-floor'));
require(${JSON.stringify(join(root, 'dist', 'shared', 'platform', 'warm-up.js'))}).warmUpInBackground();
const env = process.env;
const model = ${JSON.stringify(model)};
const { CosmosClient } = require('@azure/cosmos');
// As the registry does: the emulator's self-signed certificate is trusted on loopback only.
const agent = env.COSMOS_ENDPOINT.startsWith('https:') ? { agent: new (require('node:https').Agent)({ rejectUnauthorized: false }) } : {};
const registry = new CosmosClient({ endpoint: env.COSMOS_ENDPOINT, key: env.COSMOS_KEY, connectionPolicy: { enableEndpointDiscovery: false }, ...agent })
  .database(env.COSMOS_DATABASE).container(env.COSMOS_CONTAINER);
const modelDocument = registry.item('model', model).read();
const { BlobServiceClient } = require('@azure/storage-blob');
const models = BlobServiceClient.fromConnectionString(env.AzureWebJobsStorage).getContainerClient('models');
// The registry's document ids (\`model\`, \`version-{n}\`: shared/registry/documents.ts) and the contract's blob path (\`models/{model}/{n}/model.onnx\`).
const bytes = modelDocument.then(({ resource }) => {
  const version = resource.aliases.production;
  return Promise.all([registry.item('version-' + version, model).read(), models.getBlobClient(model + '/' + version + '/model.onnx').downloadToBuffer()]);
}).then(([, data]) => data);
require('@azure/functions');
require('zod');
const ort = require('onnxruntime-node');
const session = bytes.then((data) => ort.InferenceSession.create(data));
require('node:http').createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const row = JSON.parse(Buffer.concat(chunks).toString()).instances[0];
    const ready = await session;
    const feeds = {};
    for (const name of ready.inputNames) feeds[name] = new ort.Tensor('float32', Float32Array.of(Number(row[name])), [1, 1]);
    const out = await ready.run(feeds);
    res.end(JSON.stringify({ predictions: Array.from(out.label.data, Number) }), () => cache.flush());
  });
}).listen(Number(env.BENCH_PORT), '127.0.0.1');`;
  // Its module cache is written once the answer is sent: it gets that moment before the kill.
  return timeFirstAnswer({ script, env: common, body, name: 'the SDK floor server', lingerMs: 300 });
}

/** The previous run's figures from this section of docs/benchmarks.md, so each run shows the one before it. */
function previousColdStart(): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, 'docs', 'benchmarks.md'), 'utf8');
  } catch {
    return undefined;
  }
  const section = text.slice(text.indexOf(`## ${COLD_SECTION}`));
  if (!section.startsWith('## ')) return undefined;
  const date = / on (\d{4}-\d{2}-\d{2}),/.exec(section)?.[1];
  const load = /load average when the run ended: ([\d., ]+) \(1, 5, 15 min\)/.exec(section)?.[1];
  const floor = /\| floor: [^|]*\| ([\d.]+ ms) \|/.exec(section)?.[1];
  const host = /\| host: process start → first answered prediction \| ([\d.]+ ms) \|/.exec(section)?.[1];
  const started = /\| (?:of which|host): process start → host (?:listening|started) \| ([\d.]+ ms) \|/.exec(section)?.[1];
  if (!host || !floor) return undefined;
  return `${date ?? 'undated'}, load average ${load ?? 'unknown'}: host ${host} (started ${started ?? '?'}), floor ${floor}`;
}

const COLD_SECTION = 'Serving: cold start, measured alone';

/**
 * `--throughput [--rounds N] [--seconds S] [--against DIR [--against-label TEXT]] [--cpu-prof DIR]`: the
 * logistic model at concurrency 64 alone — the bare node:http baseline, the host of another build
 * (`--against`) and this host, a fresh child each, interleaved round by round so that a machine whose
 * load drifts weighs on all alike. Writes its own section of docs/benchmarks.md.
 */
async function throughputOnly(): Promise<void> {
  const { profileDir, against, againstLabel } = comparisonOptions();
  const rounds = Number(argument('--rounds') ?? 5);
  const seconds = Number(argument('--seconds') ?? DURATION_S);
  const CONNECTIONS = 64;
  await withBenchStack('modelloop-bench-throughput-', async ({ work, common, children, blobs, registry, log }) => {
    const churn = await trainLogistic(common, children, registry);
    const modelsFile = join(work, 'models.json');
    writeFileSync(join(work, 'churn.onnx'), (await blobs.read('models', artifactPath('churn', 1)))!.bytes);
    writeFileSync(modelsFile, JSON.stringify({ churn: { file: join(work, 'churn.onnx'), inputs: churn.inputs, labels: churn.labels } }));
    const body = JSON.stringify({ instances: [{ tenure_months: 2, monthly_charges: 95.5, contract: 'month-to-month', support_calls: 6, paperless: true }] });
    const path = '/models/churn/predict';

    const one = async (label: string, start: () => Promise<Child>): Promise<number> => {
      const child = await start();
      children.push(child);
      try {
        await throughput(`${child.url}${path}`, body, CONNECTIONS, 1);
        const r = await throughput(`${child.url}${path}`, body, CONNECTIONS, seconds);
        if (r.errors > 0) {
          const sample = await fetch(`${child.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(async (reply) => `${reply.status} ${await reply.text()}`, (err: unknown) => String(err));
          throw new Error(`${label}: ${r.errors} failed requests; one more request now: ${sample}; its log ends:\n${child.output().slice(-3000)}`);
        }
        log(`${label}: ${rps(r.rps)}/s (p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms)`);
        return r.rps;
      } finally {
        await child.stop();
        children.splice(children.indexOf(child), 1);
      }
    };
    const baseline: number[] = [];
    const other: number[] = [];
    const own: number[] = [];
    for (let round = 0; round < rounds; round++) {
      baseline.push(await one('baseline', () => startChild('--baseline', { BENCH_MODELS: modelsFile })));
      if (against) other.push(await one('against', () => startChild('--host', common, [], against)));
      own.push(await one('host', () => startChild('--host', common)));
    }
    if (profileDir) {
      await profileUnderLoad({ env: common, children, path, body, connections: CONNECTIONS, seconds, profileDir });
      log(`CPU profile of the host under load written to ${profileDir}`);
    }

    const range = (xs: number[]): string => `${rps(Math.min(...xs))}–${rps(Math.max(...xs))}`;
    const perRound = (xs: number[]): number[] => xs.map((x, i) => x / baseline[i]!);
    const row = (label: string, xs: number[]): string =>
      `| ${label} | ${rps(median(xs))} | ${range(xs)} | ${(median(xs) / median(baseline)).toFixed(2)} | ${median(perRound(xs)).toFixed(2)} |${against ? ` ${(median(xs) / median(other)).toFixed(2)} |` : ''}`;
    writeSection(THROUGHPUT_SECTION, [
      `Measured by \`node dist/bench/serving.js --throughput${against ? ' --against <build>' : ''} --rounds ${rounds} --seconds ${seconds}\` (\`bench/serving.ts\`) on ${new Date().toISOString().slice(0, 10)},`,
      `Node ${process.version}, ${cpus().length} cores; load average when the run ended: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min).`,
      `The trained logistic model (${churn.trainer}), single-row \`instances\` requests, ${clientName()} at concurrency ${CONNECTIONS} for ${seconds} s`,
      'after 1 s of warm-up, each server a fresh child process, in rounds that interleave them. Host settings: defaults',
      '(micro-batching on, inference log sampling 0.1, keys off), host log at errors only. With a load average above the',
      'core count the machine was shared while this ran: the absolute figures are then provisional; the ratios, taken in the',
      'same rounds, hold better. The host batches concurrent requests and the baseline does not, so the host can pass it.',
      ...(against ? [`Against: the same tree built without this change (${againstLabel}).`] : []),
      '',
      `| server | requests/s, median of ${rounds} | min–max | ÷ baseline (medians) | ÷ baseline (median of per-round ratios) |${against ? ' ÷ against |' : ''}`,
      `|---|---|---|---|---|${against ? '---|' : ''}`,
      row('baseline: bare node:http + the same session', baseline),
      ...(against ? [row('against', other)] : []),
      row('host', own),
      '',
      'Goal: the host at ≥ 0.70 of the baseline.',
    ].join('\n'));
    log(`Wrote the "${THROUGHPUT_SECTION}" section of docs/benchmarks.md.`);
  });
}

const THROUGHPUT_SECTION = 'Serving: logistic throughput at concurrency 64, measured alone';

/**
 * One more host child under `--cpu-prof`: a second of warm-up, `seconds` of load, then a graceful stop so that
 * it writes its profile to `profileDir`.
 */
async function profileUnderLoad(o: { env: Env; children: Child[]; path: string; body: string; connections: number; seconds: number; profileDir: string }): Promise<void> {
  const child = await startChild('--host', o.env, ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`]);
  o.children.push(child);
  await throughput(`${child.url}${o.path}`, o.body, o.connections, 1);
  await throughput(`${child.url}${o.path}`, o.body, o.connections, o.seconds);
  await new Promise<void>((done) => {
    child.process.once('exit', () => done());
    child.process.kill('SIGTERM');
  });
  o.children.splice(o.children.indexOf(child), 1);
}

/**
 * `--batching [--rounds N] [--seconds S] [--cpu-prof DIR]`: the micro-batching goal alone — the GBDT at
 * concurrency 64 on two hosts up side by side, micro-batching on and off, taking turns for N rounds (more
 * rounds than the full run gives each cell, so that a drift of this VM's speed moves both sides of most
 * ratios alike). With `--cpu-prof`, one more run of the batching host under `--cpu-prof`. Writes its own section.
 */
async function batchingOnly(): Promise<void> {
  const { profileDir } = comparisonOptions();
  const rounds = Number(argument('--rounds') ?? 7);
  const seconds = Number(argument('--seconds') ?? DURATION_S);
  const CONNECTIONS = 64;
  await withBenchStack('modelloop-bench-batching-', async ({ common, children, blobs, registry, log }) => {
    const gbdt = trainGbdt('gbdt');
    await registerGbdt(blobs, registry, gbdt);
    log(`GBDT: ${describeGbdt(gbdt)}, in ${gbdt.seconds.toFixed(1)} s`);
    const body = gbdtBody(gbdt);
    const path = '/models/gbdt/predict';
    const on = await startChild('--host', { ...common, MICRO_BATCHING: 'true' });
    children.push(on);
    const off = await startChild('--host', { ...common, MICRO_BATCHING: 'false' });
    children.push(off);
    const measure = async (label: string, url: string): Promise<number> => {
      const r = await throughput(`${url}${path}`, body, CONNECTIONS, seconds);
      if (r.errors > 0) throw new Error(`${label}: ${r.errors} failed requests`);
      log(`${label}: ${rps(r.rps)}/s (p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms)`);
      return r.rps;
    };
    for (const child of [on, off]) await throughput(`${child.url}${path}`, body, CONNECTIONS, 1);
    const batched: number[] = [];
    const unbatched: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Which goes first alternates, so that neither always follows the other's load.
      const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const which of order) {
        if (which === 'on') batched.push(await measure(`round ${round + 1}, batching on`, on.url));
        else unbatched.push(await measure(`round ${round + 1}, batching off`, off.url));
      }
    }
    if (profileDir) {
      await profileUnderLoad({ env: { ...common, MICRO_BATCHING: 'true' }, children, path, body, connections: CONNECTIONS, seconds, profileDir });
      log(`CPU profile of the batching host under load written to ${profileDir}`);
    }

    const ratios = batched.map((x, i) => x / unbatched[i]!);
    writeSection(BATCHING_SECTION, [
      `Measured by \`node dist/bench/serving.js --batching --rounds ${rounds} --seconds ${seconds}\` (\`bench/serving.ts\`) on ${new Date().toISOString().slice(0, 10)},`,
      `Node ${process.version}, ${cpus().length} cores; load average when the run ended: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min).`,
      `The GBDT (${describeGbdt(gbdt)}), single-row \`instances\` requests, ${clientName()} at concurrency ${CONNECTIONS}`,
      `for ${seconds} s a round, after 1 s of warm-up each. Two hosts, the same build and settings (defaults: BATCH_MAX_ROWS 256,`,
      'BATCH_MAX_DELAY_MS 0, inference log sampling 0.1, keys off) but MICRO_BATCHING, are up side by side and take turns, the',
      'one that goes first alternating by round.',
      '',
      `| host | requests/s, median of ${rounds} | min–max |`,
      '|---|---|---|',
      `| micro-batching on | ${rps(median(batched))} | ${rps(Math.min(...batched))}–${rps(Math.max(...batched))} |`,
      `| micro-batching off | ${rps(median(unbatched))} | ${rps(Math.min(...unbatched))}–${rps(Math.max(...unbatched))} |`,
      '',
      `On ÷ off: ${(median(batched) / median(unbatched)).toFixed(2)}× of the medians; ${median(ratios).toFixed(2)}× the median of the rounds' own ratios`,
      `(${ratios.map((r) => r.toFixed(2)).join(', ')}). Goal: ≥ 2×.`,
    ].join('\n'));
    log(`Wrote the "${BATCHING_SECTION}" section of docs/benchmarks.md.`);
  });
}

const BATCHING_SECTION = 'Serving: micro-batching of the GBDT at concurrency 64, measured alone';

function writeReport(r: Report): void {
  const lines: string[] = [];
  const models = ['logistic', 'gbdt'] as const;
  const name = { logistic: `logistic (trained: ${r.trainer})`, gbdt: `GBDT (trained: gradient-boosted-trees, ${GBDT_TREES} trees)` };
  lines.push(SECTION, '');
  lines.push(
    `Measured by \`node dist/bench/serving.js\` (\`bench/serving.ts\`) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, 2 cores,`,
    'the only load on the machine unless the load average below says otherwise. The local Functions host and the',
    `baseline each run in a child process; the load generator, ${clientName()}, runs on the same 2 cores.`,
    'Baseline: a bare `node:http` server that parses the same JSON body and calls the same ONNX Runtime session.',
    'The baseline and the two hosts (micro-batching on, off) are up side by side and take turns, cell by cell and round by round.',
    "The GBDT is trained by modelloop's GBDT trainer, exported by its ONNX exporter (`TreeEnsembleClassifier`) and registered",
    `as a trained version: ${r.gbdt}.`,
    'Host settings: defaults (inference log sampling 0.1, keys off),',
    `host log at errors only. Load average when the run ended: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min) on ${cpus().length} cores.`,
    '',
    `### Latency at low load (one connection, sequential single-row requests, ${LATENCY_REQUESTS} after 100 warm-up)`,
    '',
    '| model | server | p50 | p99 |',
    '|---|---|---|---|',
  );
  for (const m of models) {
    lines.push(`| ${name[m]} | baseline | ${ms(r.baseline.latency[m].p50)} ms | ${ms(r.baseline.latency[m].p99)} ms |`);
    lines.push(`| ${name[m]} | host, batching on | ${ms(r.batched.latency[m].p50)} ms | ${ms(r.batched.latency[m].p99)} ms |`);
    lines.push(`| ${name[m]} | host, batching off | ${ms(r.unbatched.latency[m].p50)} ms | ${ms(r.unbatched.latency[m].p99)} ms |`);
  }
  lines.push(
    '',
    `### Throughput (single-row requests, ${client()} ${DURATION_S} s per round; requests/s, the median of ${THROUGHPUT_ROUNDS} round(s) in which the three servers take turns; errors of all rounds in brackets when any)`,
    '',
  );
  lines.push('| model | concurrency | baseline | host, batching on | ratio to baseline | host, batching off | batching on ÷ off |', '|---|---|---|---|---|---|---|');
  for (const m of models) {
    for (const c of [1, 16, 64]) {
      const b = r.baseline.load[m][c]!;
      const on = r.batched.load[m][c]!;
      const off = r.unbatched.load[m][c]!;
      const err = (x: { errors: number }): string => (x.errors ? ` (${x.errors} errors)` : '');
      lines.push(`| ${name[m]} | ${c} | ${rps(b.rps)}${err(b)} | ${rps(on.rps)}${err(on)} | ${(on.rps / b.rps).toFixed(2)} | ${rps(off.rps)}${err(off)} | ${(on.rps / off.rps).toFixed(2)}× |`);
    }
  }
  lines.push('', '### Micro-batching bounds (GBDT, concurrency 64)', '', '| BATCH_MAX_ROWS | BATCH_MAX_DELAY_MS | requests/s | p99 |', '|---|---|---|---|');
  for (const s of r.sweep) lines.push(`| ${s.maxRows} | ${s.delay} | ${rps(s.rps)} | ${ms(s.p99)} ms |`);
  lines.push(
    '',
    '### Cold start',
    '',
    '| measure | median of 5 | min–max |',
    '|---|---|---|',
    `| process start → first answered prediction of the ${(r.gbdtBytes / 1e6).toFixed(2)} MB GBDT | ${ms(median(r.cold))} ms | ${msRange(r.cold)} |`,
    `| of which: process start → host started | ${ms(median(r.hostReady))} ms | ${msRange(r.hostReady)} |`,
    `| import of \`functions/score.js\` and its module graph | ${ms(median(r.imports))} ms | ${msRange(r.imports)} |`,
    `| floor: bare node:http + ONNX Runtime, process start → first answer | ${ms(median(r.floor))} ms | ${msRange(r.floor)} |`,
    `| floor with the SDKs (@azure/functions, zod, the Cosmos DB and Blob reads), process start → first answer | ${ms(median(r.sdkFloor))} ms | ${msRange(r.sdkFloor)} |`,
    '',
    `The floors are described under "${COLD_SECTION}" below; that section measures them in the same rounds as the host.`,
    '',
  );
  writeSection(SECTION.slice(3), lines.slice(1).join('\n'));
  process.stderr.write(`Wrote the "${SECTION.slice(3)}" section of docs/benchmarks.md.\n`);
}

const SECTION = '## Serving: native predict under load, micro-batching, cold start';

const writeAt = process.argv.indexOf('--write-gbdt');
if (writeAt > 0) writeFileSync(process.argv[writeAt + 1] ?? 'gbdt.onnx', trainGbdt('gbdt').bytes);
else if (process.argv.includes('--baseline')) void runBaselineChild();
else {
  /** A mode of the parent: the whole run, or one part of it alone. */
  const mode = process.argv.includes('--throughput') ? throughputOnly : process.argv.includes('--batching') ? batchingOnly : process.argv.includes('--cold-start') ? coldStartOnly : main;
  // A bad --client is reported before the emulators start.
  Promise.resolve()
    .then(() => (mode === coldStartOnly ? undefined : client()))
    .then(() => mode())
    .then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
}
