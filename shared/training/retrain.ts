import { createHash } from 'node:crypto';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ModelloopError, ensureError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { RetrainRequest } from '../platform/retrain-queue';
import type { DatasetDocument, ModelDocument, RunDocument } from '../registry/documents';
import type { Holdout } from '../registry/holdout';
import { buildHoldoutInWorker } from '../registry/holdout-worker';
import { acquireLease, foldIntoLease, type FoldedRequest, type TrainingLease } from '../registry/lease';
import { artifactPath, manifestPath, versionDocumentFromManifest, type Manifest } from '../registry/manifest';
import { applyPromotionPolicy, type PromotionDecision } from '../registry/promotion';
import type { Registry } from '../registry/registry';
import { applyRetention } from '../registry/retention';
import { runIdOf } from '../registry/run-id';
import { runTraining } from './run-training';
import { TrainingError, type TrainingDataset, type TrainingResult } from './train-model';

/** The durable steps of registering a version, in order; `onStage` sees each one (tests stop the run there). */
export type RetrainStage = 'version-reserved' | 'artifact-written' | 'manifest-written' | 'version-registered';

export interface RetrainDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly log: Logger;
  readonly timeBudgetSeconds: number;
  readonly holdoutFraction: number;
  /** Versions without an alias kept per model; older ones are deleted. @default 20 */
  readonly retainVersions?: number;
  /** How long the training lease lasts without renewal (the holder renews it every third of this). @default 60 */
  readonly leaseSeconds?: number;
  /** Called after each durable step of registration. */
  readonly onStage?: (stage: RetrainStage, version: number) => void | Promise<void>;
}

export type RetrainOutcome =
  | { readonly kind: 'duplicate'; readonly run: { readonly key: string; readonly status: RunDocument['status'] } }
  | { readonly kind: 'folded'; readonly holder: string }
  | { readonly kind: 'skipped'; readonly reason: string; readonly followUps?: RetrainOutcome[] }
  | { readonly kind: 'failed'; readonly reason: string; readonly followUps?: RetrainOutcome[] }
  | {
      readonly kind: 'registered';
      readonly version: number;
      readonly promoted: boolean;
      readonly alias: 'production' | 'challenger' | null;
      readonly followUps?: RetrainOutcome[];
    };

/** Every training run uses this seed: the same data and definition train the same bytes. */
export const TRAINING_SEED = 20_260_101;

export { runIdOf };

const FINISHED: readonly RunDocument['status'][] = ['succeeded', 'skipped', 'folded'];

/**
 * Handles one retrain request: at most one effect per idempotency key, and one training at a
 * time per model. The request takes the model's training lease; if another run holds it, the
 * request is folded into a follow-up run that the holder starts on the newest data when it is
 * done. Training failures are recorded on the run and not retried; storage failures throw (the
 * lease is given up) so the queue delivers the request again, and the retry resumes the run.
 */
export async function retrain(deps: RetrainDeps, request: RetrainRequest): Promise<RetrainOutcome> {
  const { model, key } = request;
  const runId = runIdOf(key);
  const ttlMs = (deps.leaseSeconds ?? 60) * 1000;
  for (let attempt = 0; attempt < 10; attempt++) {
    const existing = await deps.registry.getRun(model, runId);
    if (existing && FINISHED.includes(existing.status)) return { kind: 'duplicate', run: { key, status: existing.status } };
    const taken = await acquireLease(deps.registry, model, runId, ttlMs);
    if (taken.kind === 'held') {
      // The same key holds a live lease: another delivery of this request is running, or ran in a
      // process that died moments ago. Settling this copy could lose the run, so it is retried:
      // by then the run has finished (a duplicate) or its lease has expired (this copy resumes it).
      if (taken.holder === runId) {
        throw new ModelloopError('Conflict', `Retrain request ${key} is being run by another delivery (the training lease of "${model}" is held for it); this delivery will be retried.`);
      }
      if (!(await foldIntoLease(deps.registry, model, { key, reason: request.reason }))) continue;
      const now = new Date().toISOString();
      const folded: RunDocument = {
        ...(existing ?? {}),
        id: runId,
        type: 'run',
        model,
        key,
        reason: request.reason,
        status: 'folded',
        datasets: [],
        startedAt: existing?.startedAt ?? now,
        finishedAt: now,
        message: `Another run (${taken.holder}) was training "${model}"; this request is covered by the follow-up run it starts on the newest data.`,
      };
      await deps.registry.upsertRun(folded);
      deps.log.info(`Retrain request ${key} folded: "${model}" is being trained by ${taken.holder}.`);
      return { kind: 'folded', holder: taken.holder };
    }
    const lease = taken.lease;
    try {
      const own = await runOnce(deps, model, key, request.reason, existing);
      const followUps = await runFollowUps(deps, model, lease);
      return followUps.length ? { ...own, followUps } : own;
    } catch (err) {
      await lease.release().catch(() => undefined);
      throw err;
    }
  }
  throw new ModelloopError('Conflict', `The training lease of "${model}" kept changing hands; the request will be retried.`);
}

/** Runs once more for each batch of requests folded while the lease was held, until none are left. */
async function runFollowUps(deps: RetrainDeps, model: string, lease: TrainingLease): Promise<RetrainOutcome[]> {
  const outcomes: RetrainOutcome[] = [];
  for (;;) {
    const pending: FoldedRequest[] = await lease.releaseOrPending();
    if (pending.length === 0) return outcomes;
    const keys = pending.map((p) => p.key).sort();
    // Deterministic key: if this holder dies mid-way, whoever takes the lease over resumes the same run.
    const key = `followup:${model}:${createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 32)}`;
    const existing = await deps.registry.getRun(model, runIdOf(key));
    if (!existing || !FINISHED.includes(existing.status)) {
      deps.log.info(`Follow-up run for "${model}" covering ${keys.length} folded request(s): ${keys.join(', ')}.`);
      outcomes.push(await runOnce(deps, model, key, 'follow-up', existing, keys));
    }
    await lease.settle(keys);
  }
}

async function runOnce(
  deps: RetrainDeps,
  model: string,
  key: string,
  reason: string,
  existing: RunDocument | undefined,
  covers?: string[],
): Promise<Exclude<RetrainOutcome, { kind: 'duplicate' | 'folded' }>> {
  const now = new Date().toISOString();
  let run: RunDocument = {
    ...(existing ?? {}),
    id: runIdOf(key),
    type: 'run',
    model,
    key,
    reason,
    status: 'running',
    datasets: existing?.datasets ?? [],
    startedAt: now,
    ...(covers ? { covers } : {}),
  };
  delete run.finishedAt;
  run = await deps.registry.upsertRun(run);
  const finish = async (status: RunDocument['status'], message: string, extra: Partial<RunDocument> = {}): Promise<void> => {
    run = await deps.registry.upsertRun({ ...run, ...extra, status, message, finishedAt: new Date().toISOString() });
  };

  const modelDoc = await deps.registry.getModel(model);
  if (!modelDoc || !modelDoc.contract) {
    const why = modelDoc ? `Model "${model}" has no accepted data yet.` : `Model "${model}" is not defined.`;
    await finish('skipped', why);
    return { kind: 'skipped', reason: why };
  }
  const accepted = await acceptedDatasets(deps, modelDoc);
  const holdout = lazyHoldout(deps, modelDoc, accepted);

  // A previous attempt registered its version and stopped before finishing: finish it.
  if (run.version !== undefined) {
    const registered = await deps.registry.getVersion(model, run.version);
    if (registered) {
      const decision = await applyPromotionPolicy(deps, { model: modelDoc, candidate: registered, loadHoldout: holdout });
      return succeed(deps, model, run.version, decision, finish, registered.datasets);
    }
  }
  if (accepted.length === 0) {
    const why = `Model "${model}" has no accepted drops inside its training window.`;
    await finish('skipped', why);
    return { kind: 'skipped', reason: why };
  }
  // Training is reproducible: on the very drops the newest version learned from, a drift or decay
  // retrain would only register the same model again.
  if (reason === 'drift' || reason === 'decay') {
    const newest = await deps.registry.getVersion(model, modelDoc.latestVersion);
    if (newest?.source === 'trained' && accepted.every((d) => newest.datasets.includes(d.datasetId))) {
      const why = `Retrain for ${reason} skipped: version ${newest.version} was trained on every accepted drop there is (${accepted.length}), so a new version would be the same model. Drop newer labelled data and the model is retrained on it.`;
      deps.log.warn(why);
      await finish('skipped', why);
      return { kind: 'skipped', reason: why };
    }
  }

  const budgetSeconds = Math.min(deps.timeBudgetSeconds, modelDoc.definition.training?.timeBudgetSeconds ?? Number.POSITIVE_INFINITY);
  let result: TrainingResult;
  const started = Date.now();
  // Progress reaches the run document at most every 2 s. The writes are chained and awaited before
  // the run is finished, so a late progress line never overwrites the outcome.
  let progressWrite: Promise<void> = Promise.resolve();
  let lastProgressAt = 0;
  const onProgress = (message: string): void => {
    deps.log.info(`[train ${model}] ${message}`);
    if (Date.now() - lastProgressAt < 2000) return;
    lastProgressAt = Date.now();
    progressWrite = progressWrite.then(
      async () => {
        run = await deps.registry.upsertRun({ ...run, progress: message });
      },
    ).catch((err: unknown) => deps.log.warn(`Could not record training progress of "${model}": ${ensureError(err).message}`));
  };
  try {
    deps.log.info(`Training "${model}" (${reason}, key ${key}) on ${accepted.length} drop(s); time budget ${budgetSeconds} s.`);
    result = await runTraining(
      {
        model,
        definition: modelDoc.definition,
        contract: modelDoc.contract,
        datasets: accepted,
        seed: TRAINING_SEED,
        holdoutFraction: deps.holdoutFraction,
      },
      { timeBudgetMs: budgetSeconds * 1000, onProgress },
    );
    await progressWrite;
  } catch (err) {
    await progressWrite;
    if (!(err instanceof TrainingError)) throw err;
    await finish('failed', err.message);
    deps.log.error(`Training "${model}" failed; the served model is unchanged. ${err.message}`);
    return { kind: 'failed', reason: err.message };
  }

  // The version number is reserved once per run and kept on the run, so a retry after a crash
  // writes the same version again instead of leaving a gap with an orphaned artifact.
  const version = run.version ?? (await reserveVersion(deps.registry, model));
  if (run.version === undefined) run = await deps.registry.upsertRun({ ...run, version });
  await deps.onStage?.('version-reserved', version);
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
    driftBaseline: result.driftBaseline,
    contract: modelDoc.contract,
    runKey: key,
    servesPredict: true,
    trainingSeconds: (Date.now() - started) / 1000,
  };
  // Artifact and manifest first: a version is registered only once both are written.
  await deps.blobs.write(CONTAINERS.models, artifactPath(model, version), result.onnx, { contentType: 'application/octet-stream' });
  await deps.onStage?.('artifact-written', version);
  await deps.blobs.writeJson(CONTAINERS.models, manifestPath(model, version), manifest);
  await deps.onStage?.('manifest-written', version);
  const registered = await deps.registry.upsertVersion(versionDocumentFromManifest(manifest));
  await deps.onStage?.('version-registered', version);

  const current = (await deps.registry.getModel(model)) ?? modelDoc;
  const decision = await applyPromotionPolicy(deps, { model: current, candidate: registered, loadHoldout: holdout });
  deps.log.info(
    `Model "${model}" version ${version} registered (${result.primaryMetric} ${result.metrics[result.primaryMetric]?.toFixed(4)}); ` +
      `${decision.decision === 'none' ? 'no alias moved' : `it is now ${decision.decision}`}: ${decision.reason}.`,
  );
  return succeed(deps, model, version, decision, finish, result.datasets);
}

async function succeed(
  deps: RetrainDeps,
  model: string,
  version: number,
  decision: PromotionDecision,
  finish: (status: RunDocument['status'], message: string, extra?: Partial<RunDocument>) => Promise<void>,
  datasets: string[],
): Promise<Extract<RetrainOutcome, { kind: 'registered' }>> {
  const alias = decision.decision === 'none' ? null : decision.decision;
  await finish('succeeded', `Registered version ${version}${alias ? ` as ${alias}` : ''}: ${decision.reason}.`, { version, datasets, promotion: decision });
  try {
    await applyRetention(deps, model, deps.retainVersions ?? 20);
  } catch (err) {
    // Retention is housekeeping: the next run tries again.
    deps.log.warn(`Retention for "${model}" did not finish: ${ensureError(err).message}`);
  }
  return { kind: 'registered', version, promoted: alias === 'production', alias };
}

/** The evaluation split, built only if the policy needs it (and at most once). */
function lazyHoldout(deps: RetrainDeps, modelDoc: ModelDocument, accepted: TrainingDataset[]): () => Promise<Holdout | undefined> {
  let built: Holdout | undefined | null = null;
  return async () => {
    if (built !== null) return built;
    try {
      built = await buildHoldoutInWorker({ definition: modelDoc.definition, contract: modelDoc.contract!, datasets: accepted, seed: TRAINING_SEED, holdoutFraction: deps.holdoutFraction });
    } catch (err) {
      deps.log.warn(`The evaluation rows of "${modelDoc.model}" could not be rebuilt: ${ensureError(err).message}`);
      built = undefined;
    }
    return built;
  };
}

/** The model's accepted drops inside its training window, newest first, read from blob storage. */
export async function acceptedDatasets(deps: Pick<RetrainDeps, 'blobs' | 'registry' | 'log'>, modelDoc: ModelDocument): Promise<TrainingDataset[]> {
  const maxAgeDays = modelDoc.definition.training?.window?.maxAgeDays;
  const oldest = maxAgeDays === undefined ? 0 : Date.now() - maxAgeDays * 86_400_000;
  const datasets = (await deps.registry.listDatasets(modelDoc.model))
    .filter((d) => d.status === 'accepted' && Date.parse(d.receivedAt) >= oldest)
    .sort(newestFirst);
  const out: TrainingDataset[] = [];
  for (const dataset of datasets) {
    const found = await readAcceptedDrop(deps, modelDoc.model, dataset);
    if (found) out.push(found);
    else deps.log.warn(`Dataset ${dataset.datasetId.slice(0, 12)} of "${modelDoc.model}" has no readable file left (${dataset.files.join(', ')}); skipped.`);
  }
  return out;
}

function newestFirst(a: DatasetDocument, b: DatasetDocument): number {
  return a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : a.datasetId < b.datasetId ? -1 : 1;
}

/** An accepted drop's bytes, from any file name it arrived under whose content still has its hash. */
export async function readAcceptedDrop(deps: Pick<RetrainDeps, 'blobs' | 'log'>, model: string, dataset: DatasetDocument): Promise<TrainingDataset | undefined> {
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
export async function reserveVersion(registry: Registry, model: string): Promise<number> {
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
