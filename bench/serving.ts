import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import { freePort, startAzurite, startCosmos, COSMOS_EMULATOR_KEY } from '../host/emulators';
import {
  encodeModel,
  floatsAttribute,
  intAttribute,
  intsAttribute,
  IR_VERSION,
  ONNX_DOMAIN,
  ONNX_ML_DOMAIN,
  stringAttribute,
  stringsAttribute,
  TensorDataType,
  tensorValueInfo,
} from '../shared/onnx/onnx-model';
import { writeSection } from './report';
import { mulberry32 } from '../shared/training/split';
import { BlobStore } from '../shared/platform/blob-store';
import { CosmosRegistry } from '../shared/registry/cosmos-registry';
import type { SignatureField, VersionDocument } from '../shared/registry/documents';
import { artifactPath, manifestPath } from '../shared/registry/manifest';
import { sessionOptions } from '../shared/serving/model-cache';

/**
 * Serving under load: `POST /models/{model}/predict` through the local Functions host (a child
 * process, the same compiled functions Azure loads), with and without micro-batching, against a
 * baseline measured in the same run — a bare node:http server (also a child process) that parses
 * the same JSON and calls the same ONNX Runtime session directly. Models: the trained logistic
 * pipeline (examples/churn.csv through the product) and a generated 300-tree GBDT
 * (TreeEnsembleClassifier, ~1 MB). Also cold start (process start → first answered prediction of
 * the GBDT) and the import time of the scoring function's module graph. Writes its section of
 * docs/benchmarks.md and keeps the others.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/serving.js` (`--quick` for shorter runs).
 */
const root = resolve(__dirname, '..', '..');
const quick = process.argv.includes('--quick');
const DURATION_S = quick ? 2 : 5;
const LATENCY_REQUESTS = quick ? 300 : 1500;
const COLD_RUNS = 5;
const FEATURES = 20;
const TREES = 300;
const DEPTH = 6;

// ---------------------------------------------------------------- the generated GBDT


/** 300 complete trees of depth 6 over 20 named float features, two classes, softmax: what a trained GBDT exports. */
function gbdtModel(): { bytes: Uint8Array; inputs: SignatureField[]; outputs: SignatureField[] } {
  const random = mulberry32(42);
  const internal = 2 ** DEPTH - 1;
  const perTree = 2 ** (DEPTH + 1) - 1;
  const n = TREES * perTree;
  const treeIds = new Int32Array(n);
  const nodeIds = new Int32Array(n);
  const featureIds = new Int32Array(n);
  const values = new Float32Array(n);
  const modes: string[] = new Array(n);
  const trueIds = new Int32Array(n);
  const falseIds = new Int32Array(n);
  const leaves = TREES * (perTree - internal);
  const classTree = new Int32Array(leaves * 2);
  const classNode = new Int32Array(leaves * 2);
  const classIds = new Int32Array(leaves * 2);
  const classWeights = new Float32Array(leaves * 2);
  let leaf = 0;
  for (let t = 0; t < TREES; t++) {
    for (let k = 0; k < perTree; k++) {
      const i = t * perTree + k;
      treeIds[i] = t;
      nodeIds[i] = k;
      if (k < internal) {
        featureIds[i] = Math.floor(random() * FEATURES);
        values[i] = random() * 2 - 1;
        modes[i] = 'BRANCH_LEQ';
        trueIds[i] = 2 * k + 1;
        falseIds[i] = 2 * k + 2;
      } else {
        modes[i] = 'LEAF';
        const w = (random() - 0.5) * 0.2;
        for (let c = 0; c < 2; c++) {
          classTree[leaf] = t;
          classNode[leaf] = k;
          classIds[leaf] = c;
          classWeights[leaf] = c === 1 ? w : -w;
          leaf++;
        }
      }
    }
  }
  const names = Array.from({ length: FEATURES }, (_, f) => `f${f}`);
  const bytes = encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [
      { domain: ONNX_DOMAIN, version: 17 },
      { domain: ONNX_ML_DOMAIN, version: 3 },
    ],
    producerName: 'modelloop-bench',
    graph: {
      name: 'gbdt-300',
      node: [
        { opType: 'Concat', input: names, output: ['X'], attribute: [intAttribute('axis', 1)] },
        {
          opType: 'TreeEnsembleClassifier',
          domain: ONNX_ML_DOMAIN,
          input: ['X'],
          output: ['label', 'probabilities'],
          attribute: [
            intsAttribute('nodes_treeids', treeIds),
            intsAttribute('nodes_nodeids', nodeIds),
            intsAttribute('nodes_featureids', featureIds),
            floatsAttribute('nodes_values', values),
            stringsAttribute('nodes_modes', modes),
            intsAttribute('nodes_truenodeids', trueIds),
            intsAttribute('nodes_falsenodeids', falseIds),
            intsAttribute('class_treeids', classTree),
            intsAttribute('class_nodeids', classNode),
            intsAttribute('class_ids', classIds),
            floatsAttribute('class_weights', classWeights),
            intsAttribute('classlabels_int64s', [0, 1]),
            stringAttribute('post_transform', 'SOFTMAX'),
          ],
        },
      ],
      input: names.map((name) => tensorValueInfo(name, TensorDataType.FLOAT, ['N', 1])),
      output: [tensorValueInfo('label', TensorDataType.INT64, ['N']), tensorValueInfo('probabilities', TensorDataType.FLOAT, ['N', 2])],
    },
  });
  return {
    bytes,
    inputs: names.map((name) => ({ name, type: 'float', shape: [-1, 1], featureType: 'number' })),
    outputs: [
      { name: 'label', type: 'int64', shape: [-1] },
      { name: 'probabilities', type: 'float', shape: [-1, 2] },
    ],
  };
}

async function registerGbdt(blobs: BlobStore, registry: CosmosRegistry, model: string, built: ReturnType<typeof gbdtModel>): Promise<void> {
  const now = new Date().toISOString();
  await blobs.write('models', artifactPath(model, 1), built.bytes);
  await registry.createModel({ model, id: 'model', type: 'model', definition: { task: 'classification', target: 'y' }, aliases: { production: 1 }, latestVersion: 1, createdAt: now, updatedAt: now } as never);
  await registry.upsertVersion({
    model, id: 'version-1', type: 'version', version: 1, task: 'classification', source: 'imported', trainer: 'gbdt-generated',
    artifact: `models/${artifactPath(model, 1)}`, manifest: `models/${manifestPath(model, 1)}`,
    sha256: createHash('sha256').update(built.bytes).digest('hex'),
    inputs: built.inputs, outputs: built.outputs, labels: [0, 1], metrics: {}, primaryMetric: 'accuracy', datasets: [], trainingRows: 0, createdAt: now,
  } as VersionDocument);
}

// ---------------------------------------------------------------- child processes

type Env = Record<string, string>;

/** `--host`: the local Functions host only (the parent runs the emulators), logging errors only, as a load test wants. */
async function runHostChild(): Promise<void> {
  const started = performance.now();
  const { FunctionsHost } = await import('../host/functions-host');
  const host = new FunctionsHost({
    scriptRoot: root,
    port: Number(process.env.BENCH_PORT),
    storageConnection: process.env.AzureWebJobsStorage,
    hostId: `bench-${randomBytes(4).toString('hex')}`,
    localSettings: false,
    log: (entry) => {
      if (entry.level === 'error' || entry.level === 'critical') process.stderr.write(`${entry.message}\n`);
    },
  });
  await host.load();
  await host.start();
  process.stdout.write(`READY ${host.url} ${(performance.now() - started).toFixed(1)}\n`);
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
  readonly url: string;
  readonly startMs: number;
  stop(): Promise<void>;
}

async function startChild(mode: '--host' | '--baseline', env: Env): Promise<Child> {
  const port = await freePort();
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [__filename, mode], { cwd: root, env: { ...process.env, ...env, BENCH_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
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

async function throughput(url: string, body: string, connections: number, seconds = DURATION_S): Promise<{ rps: number; errors: number; p50: number; p99: number }> {
  const result = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections, duration: seconds });
  const errors = result.errors + result.timeouts + result.non2xx;
  return { rps: result.requests.average, errors, p50: result.latency.p50, p99: result.latency.p99 };
}

const ms = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(2));
const rps = (v: number): string => v.toFixed(0);

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  const [azurite, cosmos] = await Promise.all([startAzurite(), startCosmos()]);
  const work = mkdtempSync(join(tmpdir(), 'modelloop-bench-serving-'));
  const common: Env = {
    AzureWebJobsStorage: azurite.connectionString,
    COSMOS_ENDPOINT: cosmos.endpoint,
    COSMOS_KEY: COSMOS_EMULATOR_KEY,
    COSMOS_DATABASE: 'modelloop',
    COSMOS_CONTAINER: 'registry',
    FUNCTIONS_WORKER_RUNTIME: 'node',
  };
  const children: Child[] = [];
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  try {
    const blobs = new BlobStore(azurite.connectionString);
    await blobs.ensureContainers();
    const registry = new CosmosRegistry({ endpoint: cosmos.endpoint, key: COSMOS_EMULATOR_KEY, database: 'modelloop', container: 'registry' });
    await registry.initialise();
    const gbdt = gbdtModel();
    await registerGbdt(blobs, registry, 'gbdt', gbdt);
    log(`GBDT: ${TREES} trees of depth ${DEPTH}, ${FEATURES} features, ${(gbdt.bytes.byteLength / 1e6).toFixed(2)} MB`);

    // The logistic model, trained by the product from examples/churn.csv.
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
    children.pop();
    const churnVersion = (await registry.getVersion('churn', 1))!;
    log(`logistic: trained by ${churnVersion.trainer}, ${(await blobs.read('models', artifactPath('churn', 1)))!.bytes.byteLength} bytes`);

    const modelsFile = join(work, 'models.json');
    writeFileSync(join(work, 'churn.onnx'), (await blobs.read('models', artifactPath('churn', 1)))!.bytes);
    writeFileSync(join(work, 'gbdt.onnx'), gbdt.bytes);
    writeFileSync(modelsFile, JSON.stringify({
      churn: { file: join(work, 'churn.onnx'), inputs: churnVersion.inputs, labels: churnVersion.labels },
      gbdt: { file: join(work, 'gbdt.onnx'), inputs: gbdt.inputs, labels: [0, 1] },
    }));

    const random = mulberry32(7);
    const bodies = {
      logistic: JSON.stringify({ instances: [{ tenure_months: 2, monthly_charges: 95.5, contract: 'month-to-month', support_calls: 6, paperless: true }] }),
      gbdt: JSON.stringify({ instances: [Object.fromEntries(gbdt.inputs.map((f) => [f.name, Number((random() * 2 - 1).toFixed(3))]))] }),
    };
    const paths = { logistic: '/models/churn/predict', gbdt: '/models/gbdt/predict' };
    const CONCURRENCY = [1, 16, 64] as const;
    const measure = async (url: string, label: string): Promise<Measured> => {
      const row: Measured = { latency: {} as Measured['latency'], load: { logistic: {}, gbdt: {} } };
      for (const model of ['logistic', 'gbdt'] as const) {
        row.latency[model] = await lowLoad(`${url}${paths[model]}`, bodies[model]);
        for (const c of CONCURRENCY) row.load[model][c] = await throughput(`${url}${paths[model]}`, bodies[model], c);
        log(`${label} ${model}: p50 ${ms(row.latency[model].p50)} ms, p99 ${ms(row.latency[model].p99)} ms; ${CONCURRENCY.map((c) => `c${c} ${rps(row.load[model][c]!.rps)}/s`).join(', ')}`);
      }
      return row;
    };

    const baselineChild = await startChild('--baseline', { BENCH_MODELS: modelsFile });
    children.push(baselineChild);
    const baseline = await measure(baselineChild.url, 'baseline');
    await baselineChild.stop();

    const withBatching = await startChild('--host', { ...common, MICRO_BATCHING: 'true' });
    children.push(withBatching);
    const batched = await measure(withBatching.url, 'host, micro-batching on');
    await withBatching.stop();

    const withoutBatching = await startChild('--host', { ...common, MICRO_BATCHING: 'false' });
    children.push(withoutBatching);
    const unbatched = await measure(withoutBatching.url, 'host, micro-batching off');
    await withoutBatching.stop();

    // Defaults by measurement: GBDT at concurrency 64 for a few bounds on rows and delay.
    const sweep: { maxRows: number; delay: number; rps: number; p99: number }[] = [];
    for (const [maxRows, delay] of [[16, 0], [64, 0], [256, 0], [256, 1], [256, 2]] as const) {
      const child = await startChild('--host', { ...common, MICRO_BATCHING: 'true', BATCH_MAX_ROWS: String(maxRows), BATCH_MAX_DELAY_MS: String(delay) });
      children.push(child);
      await throughput(`${child.url}${paths.gbdt}`, bodies.gbdt, 64, 2);
      const r = await throughput(`${child.url}${paths.gbdt}`, bodies.gbdt, 64, Math.max(2, DURATION_S - 2));
      sweep.push({ maxRows, delay, rps: r.rps, p99: r.p99 });
      log(`sweep BATCH_MAX_ROWS=${maxRows} BATCH_MAX_DELAY_MS=${delay}: ${rps(r.rps)}/s, p99 ${r.p99} ms`);
      await child.stop();
    }

    // Cold start: process start → first answered prediction of the ~1 MB GBDT (loaded from blob storage on that request).
    const cold: number[] = [];
    const hostReady: number[] = [];
    for (let run = 0; run < COLD_RUNS; run++) {
      const spawnedAt = performance.now();
      const child = await startChild('--host', common);
      children.push(child);
      hostReady.push(child.startMs);
      for (;;) {
        const reply = await fetch(`${child.url}${paths.gbdt}`, { method: 'POST', body: bodies.gbdt, headers: { 'content-type': 'application/json' } }).catch(() => undefined);
        if (reply?.status === 200) break;
      }
      cold.push(performance.now() - spawnedAt);
      await child.stop();
      log(`cold start ${run + 1}/${COLD_RUNS}: ${ms(cold.at(-1)!)} ms (host listening after ${ms(child.startMs)} ms)`);
    }

    // Import time of functions/score.js and everything it requires, in a fresh process each time.
    const imports: number[] = [];
    const probe = `const core = require(${JSON.stringify(join(root, 'dist', 'host', 'core-api.js'))});` +
      'const receiver = { registerFunction() {}, registerHook() { return { dispose() {} }; }, systemLog() {} };' +
      `const t = process.hrtime.bigint(); core.loadWithCoreApi(receiver, () => require(${JSON.stringify(join(root, 'dist', 'functions', 'score.js'))}));` +
      `process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
    for (let run = 0; run < COLD_RUNS; run++) {
      const out = await new Promise<string>((done) => {
        const child = spawn(process.execPath, ['-e', probe], { cwd: root, env: { ...process.env, ...common }, stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
        child.once('exit', () => done(text));
      });
      imports.push(Number(out));
    }

    const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
    writeReport({ baseline, batched, unbatched, sweep, cold, hostReady, imports, median, gbdtBytes: gbdt.bytes.byteLength, trainer: churnVersion.trainer });
  } finally {
    for (const child of children) await child.stop();
    await Promise.all([azurite.stop(), cosmos.stop()]);
    rmSync(work, { recursive: true, force: true });
  }
}

type ModelKey = 'logistic' | 'gbdt';
interface Measured {
  latency: Record<ModelKey, { p50: number; p99: number }>;
  load: Record<ModelKey, Record<number, { rps: number; errors: number; p50: number; p99: number }>>;
}
interface Report {
  baseline: Measured;
  batched: Measured;
  unbatched: Measured;
  sweep: { maxRows: number; delay: number; rps: number; p99: number }[];
  cold: number[];
  hostReady: number[];
  imports: number[];
  median: (xs: number[]) => number;
  gbdtBytes: number;
  trainer: string;
}

function writeReport(r: Report): void {
  const lines: string[] = [];
  const models = ['logistic', 'gbdt'] as const;
  const name = { logistic: `logistic (trained: ${r.trainer})`, gbdt: `GBDT (generated, ${TREES} trees)` };
  lines.push(SECTION, '');
  lines.push(
    `Measured by \`node dist/bench/serving.js\` (\`bench/serving.ts\`) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, 2 cores,`,
    'the only load on the machine unless the load average below says otherwise. The local Functions host and the',
    'baseline each run in a child process; the load generator (autocannon) runs in the parent on the same 2 cores.',
    'Baseline: a bare `node:http` server that parses the same JSON body and calls the same ONNX Runtime session.',
    `The GBDT is generated (${TREES} complete trees of depth ${DEPTH} over ${FEATURES} features, ${(r.gbdtBytes / 1e6).toFixed(2)} MB,`,
    '`TreeEnsembleClassifier`) until the GBDT trainer lands. Host settings: defaults (inference log sampling 0.1, keys off),',
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
  lines.push('', `### Throughput (single-row requests, autocannon ${DURATION_S} s per cell; requests/s, errors in brackets when any)`, '');
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
  for (const s of r.sweep) lines.push(`| ${s.maxRows} | ${s.delay} | ${rps(s.rps)} | ${s.p99} ms |`);
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  lines.push(
    '',
    '### Cold start',
    '',
    '| measure | median of 5 | min–max |',
    '|---|---|---|',
    `| process start → first answered prediction of the ${(r.gbdtBytes / 1e6).toFixed(2)} MB GBDT | ${ms(r.median(r.cold))} ms | ${ms(sorted(r.cold)[0]!)}–${ms(sorted(r.cold).at(-1)!)} ms |`,
    `| of which: process start → host listening | ${ms(r.median(r.hostReady))} ms | ${ms(sorted(r.hostReady)[0]!)}–${ms(sorted(r.hostReady).at(-1)!)} ms |`,
    `| import of \`functions/score.js\` and its module graph | ${ms(r.median(r.imports))} ms | ${ms(sorted(r.imports)[0]!)}–${ms(sorted(r.imports).at(-1)!)} ms |`,
    '',
  );
  writeSection(SECTION.slice(3), lines.slice(1).join('\n'));
  process.stderr.write(`Wrote the "${SECTION.slice(3)}" section of docs/benchmarks.md.\n`);
}

const SECTION = '## Serving: native predict under load, micro-batching, cold start';

const writeAt = process.argv.indexOf('--write-gbdt');
if (writeAt > 0) writeFileSync(process.argv[writeAt + 1] ?? 'gbdt.onnx', gbdtModel().bytes);
else if (process.argv.includes('--host')) void runHostChild();
else if (process.argv.includes('--baseline')) void runBaselineChild();
else
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
