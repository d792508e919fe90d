import { createHash } from 'node:crypto';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ModelloopError, ensureError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { RetrainRequest } from '../platform/retrain-queue';
import { moveAlias } from '../registry/aliases';
import type { DatasetDocument, ModelDocument, RunDocument } from '../registry/documents';
import { artifactPath, manifestPath, versionDocumentFromManifest, type Manifest } from '../registry/manifest';
import type { Registry } from '../registry/registry';
import { runTraining } from './run-training';
import { TrainingError, type TrainingDataset, type TrainingResult } from './train-model';

export interface RetrainDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly log: Logger;
  readonly timeBudgetSeconds: number;
  readonly holdoutFraction: number;
}

export type RetrainOutcome =
  | { readonly kind: 'duplicate'; readonly run: RunDocument }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'registered'; readonly version: number; readonly promoted: boolean };

/** Every training run uses this seed: the same data and definition train the same bytes. */
export const TRAINING_SEED = 20_260_101;

export function runIdOf(key: string): string {
  return `run-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/**
 * Handles one retrain request: at most one effect per idempotency key. Trains on the model's
 * accepted drops in a worker thread, writes `model.onnx` and `manifest.json`, registers the
 * version and, when the model has no production version yet, points `production` at it.
 * Training failures are recorded on the run and not retried; storage failures throw so the
 * queue delivers the request again.
 */
export async function retrain(deps: RetrainDeps, request: RetrainRequest): Promise<RetrainOutcome> {
  const { model, key } = request;
  const runId = runIdOf(key);
  const now = new Date().toISOString();
  const existing = await deps.registry.getRun(model, runId);
  const leaseMs = (deps.timeBudgetSeconds + 300) * 1000;
  if (existing && (existing.status === 'succeeded' || existing.status === 'skipped')) return { kind: 'duplicate', run: existing };
  if (existing?.status === 'running' && Date.now() - Date.parse(existing.startedAt) < leaseMs) return { kind: 'duplicate', run: existing };

  let run: RunDocument = { id: runId, type: 'run', model, key, reason: request.reason, status: 'running', datasets: [], startedAt: now };
  if (existing) run = await deps.registry.upsertRun({ ...existing, ...run });
  else {
    try {
      run = await deps.registry.createRun(run);
    } catch (err) {
      if (err instanceof ModelloopError && err.code === 'Conflict') {
        const winner = await deps.registry.getRun(model, runId);
        if (winner) return { kind: 'duplicate', run: winner };
      }
      throw err;
    }
  }

  const modelDoc = await deps.registry.getModel(model);
  const finish = async (status: RunDocument['status'], message: string, extra: Partial<RunDocument> = {}): Promise<void> => {
    run = await deps.registry.upsertRun({ ...run, ...extra, status, message, finishedAt: new Date().toISOString() });
  };
  if (!modelDoc || !modelDoc.contract) {
    const reason = modelDoc ? `Model "${model}" has no accepted data yet.` : `Model "${model}" is not defined.`;
    await finish('skipped', reason);
    return { kind: 'skipped', reason };
  }

  const accepted = await acceptedDatasets(deps, modelDoc);
  if (accepted.length === 0) {
    const reason = `Model "${model}" has no accepted drops inside its training window.`;
    await finish('skipped', reason);
    return { kind: 'skipped', reason };
  }

  const budgetSeconds = Math.min(deps.timeBudgetSeconds, modelDoc.definition.training?.timeBudgetSeconds ?? Number.POSITIVE_INFINITY);
  let result: TrainingResult;
  const started = Date.now();
  try {
    deps.log.info(`Training "${model}" (${request.reason}, key ${key}) on ${accepted.length} drop(s); time budget ${budgetSeconds} s.`);
    result = await runTraining(
      {
        model,
        definition: modelDoc.definition,
        contract: modelDoc.contract,
        datasets: accepted,
        seed: TRAINING_SEED,
        holdoutFraction: deps.holdoutFraction,
      },
      { timeBudgetMs: budgetSeconds * 1000, onProgress: (message) => deps.log.info(`[train ${model}] ${message}`) },
    );
  } catch (err) {
    if (!(err instanceof TrainingError)) throw err;
    await finish('failed', err.message);
    deps.log.error(`Training "${model}" failed; the served model is unchanged. ${err.message}`);
    return { kind: 'failed', reason: err.message };
  }

  const version = await reserveVersion(deps.registry, model);
  const manifest: Manifest = {
    format: 'modelloop.manifest/1',
    model,
    version,
    createdAt: new Date().toISOString(),
    task: modelDoc.definition.task,
    source: 'trained',
    trainer: result.trainer,
    sha256: createHash('sha256').update(result.onnx).digest('hex'),
    inputs: result.inputs,
    outputs: result.outputs,
    ignoredInputs: result.ignoredInputs,
    ...(result.labels ? { labels: result.labels } : {}),
    primaryMetric: result.primaryMetric,
    metrics: result.metrics,
    candidates: result.candidates,
    seed: TRAINING_SEED,
    datasets: result.datasets,
    trainingRows: result.trainingRows,
    evaluationRows: result.evaluationRows,
    evaluatedOnTraining: result.evaluatedOnTraining,
    featureStats: result.featureStats,
    contract: modelDoc.contract,
    runKey: key,
    trainingSeconds: (Date.now() - started) / 1000,
  };
  // Artifact and manifest first: a version is registered only once both are written.
  await deps.blobs.write(CONTAINERS.models, artifactPath(model, version), result.onnx, { contentType: 'application/octet-stream' });
  await deps.blobs.writeJson(CONTAINERS.models, manifestPath(model, version), manifest);
  await deps.registry.upsertVersion(versionDocumentFromManifest(manifest));

  const after = await moveAlias(deps, {
    model,
    alias: 'production',
    version,
    by: 'system:first-version',
    reason: 'the model had no production version',
    onlyIfUnset: true,
  });
  const promoted = after.aliases.production === version;
  await finish('succeeded', `Registered version ${version}${promoted ? ' as production' : ''}.`, { version, datasets: result.datasets });
  deps.log.info(
    `Model "${model}" version ${version} registered (${result.primaryMetric} ${result.metrics[result.primaryMetric]?.toFixed(4)})` +
      `${promoted ? '; production now points at it' : `; production stays at version ${after.aliases.production}`}.`,
  );
  return { kind: 'registered', version, promoted };
}

async function acceptedDatasets(deps: RetrainDeps, modelDoc: ModelDocument): Promise<TrainingDataset[]> {
  const maxAgeDays = modelDoc.definition.training?.window?.maxAgeDays;
  const oldest = maxAgeDays === undefined ? 0 : Date.now() - maxAgeDays * 86_400_000;
  const datasets = (await deps.registry.listDatasets(modelDoc.model))
    .filter((d) => d.status === 'accepted' && Date.parse(d.receivedAt) >= oldest)
    .sort(newestFirst);
  const out: TrainingDataset[] = [];
  for (const dataset of datasets) {
    const found = await readAnyFile(deps, modelDoc.model, dataset);
    if (found) out.push(found);
    else deps.log.warn(`Dataset ${dataset.datasetId.slice(0, 12)} of "${modelDoc.model}" has no readable file left (${dataset.files.join(', ')}); skipped.`);
  }
  return out;
}

function newestFirst(a: DatasetDocument, b: DatasetDocument): number {
  return a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : a.datasetId < b.datasetId ? -1 : 1;
}

async function readAnyFile(deps: RetrainDeps, model: string, dataset: DatasetDocument): Promise<TrainingDataset | undefined> {
  for (const file of dataset.files) {
    try {
      const blob = await deps.blobs.read(CONTAINERS.datasets, `${model}/${file}`);
      if (blob && createHash('sha256').update(blob.bytes).digest('hex') === dataset.datasetId) {
        return { datasetId: dataset.datasetId, file, bytes: blob.bytes };
      }
    } catch (err) {
      deps.log.warn(`Could not read datasets/${model}/${file}: ${ensureError(err).message}`);
    }
  }
  return undefined;
}

/** Takes the next version number with an ETag check, so two runs never get the same one. */
async function reserveVersion(registry: Registry, model: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const doc = await registry.getModel(model);
    if (!doc) throw new ModelloopError('ModelNotFound', `Model "${model}" disappeared during training.`);
    const version = doc.latestVersion + 1;
    try {
      await registry.replaceModel({ ...doc, latestVersion: version, updatedAt: new Date().toISOString() });
      return version;
    } catch (err) {
      if (!(err instanceof ModelloopError && err.code === 'Conflict') || attempt >= 10) throw err;
    }
  }
}
