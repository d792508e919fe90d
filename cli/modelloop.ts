#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { ApiClient, ApiError } from './api-client';
import type { EvaluationDocument, RunDocument, VersionEvaluation } from '../shared/registry/documents';
import { readRowsFile, type Cell, type RowsFile } from './rows-file';

/**
 * `modelloop`: the operators' and citizen data scientists' command line. It talks to a local
 * stack or a deployed app over the same HTTP interface every other client uses.
 */
const program = new Command();
program
  .name('modelloop')
  .description('Drop data, train, register and serve models on modelloop.')
  .addOption(new Option('--url <url>', 'the app to talk to').env('MODELLOOP_URL').default('http://localhost:7071'))
  .addOption(new Option('--key <key>', 'function or admin key, for a deployed app').env('MODELLOOP_KEY'))
  .option('--json', 'print JSON for scripts instead of tables', false);

const client = (): ApiClient => {
  const { url, key } = program.opts<{ url: string; key?: string }>();
  return new ApiClient(url, key);
};
const asJson = (): boolean => program.opts<{ json: boolean }>().json;

program
  .command('start')
  .description('start the local stack: Azurite, the Cosmos server and the Functions host')
  .action(async () => {
    const { runLocalStack } = await import('../host/start');
    runLocalStack();
  });

program
  .command('define <model>')
  .description('define a model by its task and target column')
  .requiredOption('--task <task>', 'classification or regression')
  .requiredOption('--target <column>', 'the column to predict')
  .action(async (model: string, options: { task: string; target: string }) => {
    const view = await client().request('PUT', `/models/${model}`, { task: options.task, target: options.target });
    print(view, () => `Model "${model}" defined: ${options.task} of "${options.target}". Drop data with: modelloop upload FILE --model ${model}`);
  });

program
  .command('upload <file>')
  .description('upload a data drop (CSV) for a model and wait for its verdict and the version it trains')
  .requiredOption('--model <model>', 'the model the data is for')
  .option('--name <name>', 'file name in the datasets container (default: the file\'s own name)')
  .option('--no-wait', 'return once uploaded, without waiting for the verdict')
  .option('--timeout <seconds>', 'how long to wait for the verdict and training', '300')
  .action(async (file: string, options: { model: string; name?: string; wait: boolean; timeout: string }) => {
    const api = client();
    const bytes = await readFile(file);
    const name = options.name ?? basename(file);
    const before = (await api.tryRequest<{ latestVersion: number }>('GET', `/models/${options.model}`))?.latestVersion ?? 0;
    progress(`Uploading ${name} (${formatBytes(bytes.byteLength)}) to datasets/${options.model}/ ...`);
    const upload = await api.request<{ datasetId: string; status: string }>('PUT', `/datasets/${options.model}/${encodeURIComponent(name)}`, bytes, 'text/csv');
    progress(`Uploaded. Dataset ${upload.datasetId.slice(0, 12)}.`);
    if (!options.wait) return print(upload, () => '');
    const deadline = Date.now() + Number(options.timeout) * 1000;
    const dataset = await waitFor(deadline, 'the verdict on the drop', async () => {
      const list = await api.tryRequest<{ datasets: { datasetId: string; status: string; message: string; report: string }[] }>('GET', `/models/${options.model}/datasets`);
      return list?.datasets.find((d) => d.datasetId === upload.datasetId);
    });
    progress(`Drop ${dataset.status}: ${dataset.message}`);
    if (dataset.status !== 'accepted') {
      if (asJson()) console.log(JSON.stringify(dataset, null, 2));
      process.exitCode = dataset.status === 'pending' ? 0 : 1;
      return;
    }
    if (upload.status !== 'received') return print(dataset, () => 'This content was dropped before; nothing new to train.');
    progress('Training ...');
    const model = await waitFor(deadline, 'a new version', async () => {
      const view = await api.tryRequest<{ latestVersion: number; aliases: Record<string, number>; versions: { version: number; aliases: string[]; primaryMetric: string; metrics: Record<string, number> }[] }>('GET', `/models/${options.model}`);
      // A version is listed as soon as it is registered; the promotion policy then gives it an alias.
      return view && view.versions.some((v) => v.version > before && v.aliases.length > 0) ? view : undefined;
    });
    const latest = model.versions.at(-1)!;
    print(model, () =>
      `Version ${latest.version} registered (${latest.primaryMetric} ${latest.metrics[latest.primaryMetric]?.toFixed(4)}); ` +
        `production is version ${model.aliases.production ?? 'unset'}.`,
    );
  });

program
  .command('models')
  .description('list models with their aliases')
  .action(async () => {
    const { models } = await client().request<{ models: { model: string; task: string; target: string; aliases: Record<string, number>; latestVersion: number }[] }>('GET', '/models');
    print(models, () =>
      table(
        ['MODEL', 'TASK', 'TARGET', 'PRODUCTION', 'LATEST'],
        models.map((m) => [m.model, m.task, m.target, String(m.aliases.production ?? '-'), String(m.latestVersion || '-')]),
      ),
    );
  });

program
  .command('versions <model>')
  .description('list a model\'s versions with their metrics')
  .action(async (model: string) => {
    const view = await client().request<{ versions: { version: number; aliases: string[]; trainer: string; primaryMetric: string; metrics: Record<string, number>; trainingRows: number; createdAt: string }[] }>('GET', `/models/${model}/versions`);
    print(view, () =>
      table(
        ['VERSION', 'ALIASES', 'TRAINER', 'METRIC', 'ROWS', 'CREATED'],
        view.versions.map((v) => [String(v.version), v.aliases.join(',') || '-', v.trainer, `${v.primaryMetric} ${v.metrics[v.primaryMetric]?.toFixed(4)}`, String(v.trainingRows), v.createdAt]),
      ),
    );
  });

program
  .command('predict <model>')
  .description('score rows from a file: .csv (header row), .jsonl (one object per line) or .json (an array of rows, or any body the API takes)')
  .requiredOption('--file <rows.csv|rows.jsonl|rows.json>', 'the rows to score')
  .option('--version <n>', 'score with this version instead of production')
  .option('--alias <name>', 'score with the version this alias points at')
  .action(async (model: string, options: { file: string; version?: string; alias?: string }) => {
    const file = await readRowsFile(options.file);
    const query = options.version ? `?version=${options.version}` : options.alias ? `?alias=${options.alias}` : '';
    const reply = await client().request<{ version: number; predictions: unknown[]; probabilities?: Record<string, number>[] }>('POST', `/models/${model}/predict${query}`, file.body);
    print(reply, () => `${model} version ${reply.version}\n` + predictionTable(file, reply));
  });

/** Input columns shown beside each prediction, at most; the rest are named under the table. */
const SHOWN_COLUMNS = 6;

function predictionTable(file: RowsFile, reply: { predictions: unknown[]; probabilities?: Record<string, number>[] }): string {
  const shown = file.columns.slice(0, SHOWN_COLUMNS);
  const header = [file.whereLabel, ...shown.map((c) => c.toUpperCase()), 'PREDICTION', ...(reply.probabilities ? ['PROBABILITY'] : [])];
  const rows = reply.predictions.map((prediction, i) => {
    const probabilities = reply.probabilities?.[i];
    const top = probabilities ? Math.max(...Object.values(probabilities)) : undefined;
    return [
      String(file.where[i] ?? i + 1),
      ...shown.map((_, c) => cellText(file.rows[i]?.[c])),
      String(prediction),
      ...(reply.probabilities ? [top === undefined ? '-' : top.toFixed(3)] : []),
    ];
  });
  const hidden = file.columns.length - shown.length;
  return table(header, rows) + (hidden > 0 ? `\n(${hidden} more input column${hidden === 1 ? '' : 's'} not shown: ${file.columns.slice(SHOWN_COLUMNS).join(', ')})` : '');
}

function cellText(cell: Cell | undefined): string {
  if (cell === null || cell === undefined) return '-';
  const text = String(cell);
  return text.length > 20 ? `${text.slice(0, 19)}…` : text;
}

interface ModelSummary {
  aliases: Record<string, number>;
  versions: { version: number }[];
}

program
  .command('promote <model> <version>')
  .description('point an alias (production by default) at a version')
  .option('--alias <alias>', 'the alias to move', 'production')
  .action(async (model: string, version: string, options: { alias: string }) => {
    const reply = await client().request('PUT', `/models/${model}/aliases/${options.alias}`, { version: Number(version) });
    print(reply, () => `${options.alias} of ${model} now points at version ${version}.`);
  });

program
  .command('rollback <model>')
  .description('point production back at the newest version older than the one it serves (or --to VERSION)')
  .option('--to <version>', 'the version to roll back to')
  .action(async (model: string, options: { to?: string }) => {
    const api = client();
    const view = await api.request<ModelSummary>('GET', `/models/${model}`);
    const current = view.aliases.production;
    if (current === undefined) throw new Error(`${model} has no production version to roll back.`);
    const target = options.to !== undefined ? Number(options.to) : view.versions.map((v) => v.version).filter((v) => v < current).at(-1);
    if (target === undefined) throw new Error(`${model} has no version older than ${current} to roll back to.`);
    const reply = await api.request('PUT', `/models/${model}/aliases/production`, { version: target });
    print(reply, () => `production of ${model} rolled back from version ${current} to version ${target}.`);
  });

program
  .command('retrain <model>')
  .description('ask for a retrain now; --idempotency-key makes the request idempotent; --wait follows the training')
  .option('--idempotency-key <key>', 'the same key never trains twice')
  .option('--wait', 'wait for the run, printing its progress, and say what it registered', false)
  .option('--timeout <seconds>', 'how long --wait waits', '900')
  .action(async (model: string, options: { idempotencyKey?: string; wait: boolean; timeout: string }) => {
    const api = client();
    const body = options.idempotencyKey ? { key: options.idempotencyKey } : undefined;
    const reply = await api.request<{ key: string }>('POST', `/models/${model}/retrain`, body);
    if (!options.wait) return print(reply, () => `Retrain of ${model} queued (key ${reply.key}).`);
    progress(`Retrain of ${model} queued (key ${reply.key}); waiting for it…`);
    let shown = '';
    const run = await waitFor(Date.now() + Number(options.timeout) * 1000, 'the training run', async () => {
      const { runs } = await api.request<{ runs: Run[] }>('GET', `/models/${model}/runs?limit=50`);
      // A request that arrived while another run trained the model is folded into a follow-up run.
      const own = runs.find((r) => r.key === reply.key);
      const current = own?.status === 'folded' ? runs.find((r) => r.covers?.includes(reply.key)) : own;
      const line = current ? `${current.status}${current.progress ? `: ${current.progress}` : ''}` : 'queued';
      if (line !== shown) progress(`  ${(shown = line)}`);
      return current && current.status !== 'running' && current.status !== 'folded' ? current : undefined;
    }, false);
    print(run, () =>
      run.status === 'succeeded'
        ? `Version ${run.version} registered${run.promotion ? ` as ${run.promotion.decision === 'none' ? 'no alias' : run.promotion.decision}: ${run.promotion.reason}` : ''}.`
        : `Run ${run.status}: ${run.message ?? ''}`,
    );
    if (run.status === 'failed') process.exitCode = 1;
  });

program
  .command('reports <model>')
  .description("list a model's drops with their verdicts; --dataset ID shows one drop's problems line by line")
  .option('--dataset <id>', 'a dataset id (or its first characters) to show in full')
  .action(async (model: string, options: { dataset?: string }) => {
    const api = client();
    const { datasets } = await api.request<{ datasets: { datasetId: string; files: string[]; status: string; rowsRead: number; acceptedRows: number; message: string }[] }>(
      'GET',
      `/models/${model}/datasets`,
    );
    if (!options.dataset) {
      return print(datasets, () =>
        table(
          ['DATASET', 'FILES', 'STATUS', 'ROWS', 'VERDICT'],
          datasets.map((d) => [d.datasetId.slice(0, 12), d.files.join(','), d.status, `${d.acceptedRows}/${d.rowsRead}`, d.message]),
        ),
      );
    }
    const match = datasets.find((d) => d.datasetId.startsWith(options.dataset!));
    if (!match) throw new Error(`${model} has no dataset starting with ${options.dataset}.`);
    const detail = await api.request<{ report: { message: string; problems: { row: number; column: string; code: string; expected: string; received: string }[] } | null }>(
      'GET',
      `/models/${model}/datasets/${match.datasetId}`,
    );
    const problems = detail.report?.problems ?? [];
    print(detail, () =>
      `${match.files.join(', ')}: ${match.status}. ${detail.report?.message ?? match.message}\n` +
        table(['LINE', 'COLUMN', 'PROBLEM', 'EXPECTED', 'RECEIVED'], problems.map((p) => [String(p.row), p.column, p.code, p.expected, p.received])),
    );
  });

/** The fields of the registry's documents the CLI reads from the API's views of them (`--json` prints them whole). */
type Evaluation = Pick<EvaluationDocument, 'windowStart' | 'windowEnd' | 'trigger' | 'status' | 'thresholds' | 'production' | 'challenger' | 'findings' | 'retrain'>;
type Run = Pick<RunDocument, 'key' | 'status' | 'version' | 'covers' | 'progress' | 'message' | 'promotion'>;

program
  .command('evaluate <model>')
  .description('evaluate production (and the challenger) now over the window since the last evaluation: quality, drift, data quality')
  .option('--fail-on-alert', 'exit with status 3 when drift or decay tripped (for scripts and pipelines)', false)
  .action(async (model: string, options: { failOnAlert: boolean }) => {
    progress(`Evaluating ${model}…`);
    const reply = await client().request<{ status: string; reason?: string; evaluation?: Evaluation }>('POST', `/models/${model}/evaluate`);
    print(reply, () => (reply.evaluation ? describeEvaluation(reply.evaluation) : `Nothing evaluated: ${reply.reason ?? reply.status}`));
    if (options.failOnAlert && reply.evaluation?.status === 'alert') process.exitCode = 3;
  });

program
  .command('evaluations <model>')
  .description("list a model's evaluations, newest first")
  .option('--from <time>', 'only windows that ended at or after this ISO-8601 time')
  .option('--to <time>', 'only windows that ended before this ISO-8601 time')
  .option('--limit <n>', 'at most this many', '20')
  .action(async (model: string, options: { from?: string; to?: string; limit: string }) => {
    const query = new URLSearchParams({ limit: options.limit, ...(options.from ? { from: options.from } : {}), ...(options.to ? { to: options.to } : {}) });
    const { evaluations } = await client().request<{ evaluations: Evaluation[] }>('GET', `/models/${model}/evaluations?${query}`);
    print(evaluations, () =>
      table(
        ['WINDOW END', 'STATUS', 'PRODUCTION', 'DRIFT', 'QUALITY', 'CHALLENGER', 'RETRAIN'],
        evaluations.map((e) => [
          e.windowEnd,
          e.status,
          `v${e.production.version}`,
          e.production.drift.status === 'measured' ? (e.production.drift.drifted.join(',') || 'none') + ` (${e.production.drift.rows} rows)` : e.production.drift.status,
          describeQuality(e.production),
          e.challenger ? `v${e.challenger.version}: ${describeQuality(e.challenger)}` : '-',
          e.retrain?.reason ?? '-',
        ]),
      ),
    );
  });

function describeQuality(v: VersionEvaluation): string {
  const q = v.quality;
  if (q.status !== 'measured') return q.status;
  const now = q.metrics?.[q.primaryMetric];
  return `${q.primaryMetric} ${now === undefined ? '-' : now.toFixed(4)} (training ${q.trainingMetrics[q.primaryMetric]?.toFixed(4) ?? '-'})${q.decayed ? ' DECAY' : ''}`;
}

function describeEvaluation(e: Evaluation): string {
  const lines = [`${e.status.toUpperCase()}  ${e.windowStart} → ${e.windowEnd}  (${e.trigger})`];
  for (const v of [e.production, ...(e.challenger ? [e.challenger] : [])]) {
    lines.push('', `${v.alias} v${v.version}`, `  quality: ${v.quality.message}`, `  drift:   ${v.drift.message}`);
    const figures = [...Object.entries(v.drift.features), ...(v.drift.prediction ? [['(prediction)', v.drift.prediction] as const] : [])];
    if (figures.length && v.drift.rows > 0) {
      const rows = figures.map(([name, f]) => [
        `  ${name}`,
        f.measure === 'psi' ? 'PSI' : 'JS',
        f.value === undefined ? '-' : f.value.toFixed(4),
        f.drifted ? `> ${e.thresholds.drift}` : '',
        `${(f.nullRate * 100).toFixed(1)}%`,
        f.outOfRangeRate === undefined ? '' : `${(f.outOfRangeRate * 100).toFixed(1)}%`,
        f.unseenRate === undefined ? '' : `${(f.unseenRate * 100).toFixed(1)}%`,
      ]);
      lines.push(table(['  INPUT', 'MEASURE', 'VALUE', 'DRIFT', 'NULLS', 'OUT OF RANGE', 'UNSEEN'], rows));
    }
  }
  if (e.findings.length) lines.push('', 'Findings:', ...e.findings.map((f) => `  - ${f}`));
  if (e.retrain) lines.push('', `Retrain requested: reason ${e.retrain.reason}, key ${e.retrain.key}.`);
  return lines.join('\n');
}

program
  .command('registry')
  .description('registry maintenance, run against the storage account and Cosmos DB themselves (app settings from the environment or ./local.settings.json)')
  .command('rebuild')
  .description('rebuild every model, version, alias and dataset record from blob storage (safe on a live registry: it only upserts)')
  .action(async () => {
    const { existsSync, readFileSync } = await import('node:fs');
    // Settings as the host reads them: the environment first, then local.settings.json "Values".
    if (existsSync('local.settings.json')) {
      const values = (JSON.parse(readFileSync('local.settings.json', 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
      for (const [name, value] of Object.entries(values)) if (process.env[name] === undefined || process.env[name] === '') process.env[name] = value;
    }
    const { getServices } = await import('../shared/platform/services');
    const { rebuildRegistry } = await import('../shared/registry/rebuild');
    // The services log to the console; the command's answer alone goes to stdout.
    const log = console.log;
    console.log = (...args: unknown[]) => console.error(...args);
    const { blobs, registry } = await getServices();
    const summary = await rebuildRegistry(blobs, registry);
    console.log = log;
    print(summary, () =>
      `Rebuilt from blob storage: ${summary.models} models, ${summary.versions} versions, ${summary.aliasMoves} alias moves, ${summary.datasets} datasets.` +
        (summary.skipped.length ? `\nSkipped ${summary.skipped.length}:\n  ${summary.skipped.join('\n  ')}` : ''),
    );
    process.exit(process.exitCode ?? 0);
  });

function print(value: unknown, human: () => string): void {
  if (asJson()) console.log(JSON.stringify(value, null, 2));
  else {
    const text = human();
    if (text) console.log(text);
  }
}

function progress(message: string): void {
  if (!asJson()) process.stderr.write(`${message}\n`);
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function waitFor<T>(deadline: number, what: string, probe: () => Promise<T | undefined>, withDots = true): Promise<T> {
  const showDots = withDots && !asJson() && process.stderr.isTTY;
  let dots = 0;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      if (dots) process.stderr.write('\n');
      return value;
    }
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what} (raise --timeout, or check the host's log).`);
    if (showDots) {
      process.stderr.write('.');
      dots++;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ApiError) console.error(`modelloop: ${err.message}`);
  else console.error(`modelloop: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
