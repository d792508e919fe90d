import type { DataContract } from '../data/data-contract';
import { primaryMetricOf, type ModelDefinition } from '../data/model-definition';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ensureError, ModelloopError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { RetrainQueue } from '../platform/retrain-queue';
import type { Telemetry } from '../platform/telemetry';
import {
  evaluationId,
  type DatasetDocument,
  type EvaluationDocument,
  type ModelDocument,
  type VersionDocument,
  type VersionEvaluation,
} from '../registry/documents';
import { readManifest } from '../registry/durable-record';
import { inProcessRunner, planFeeds, scoreOnHoldout } from '../registry/holdout';
import { buildHoldoutInWorker } from '../registry/holdout-worker';
import { artifactPath, type Manifest } from '../registry/manifest';
import type { Registry } from '../registry/registry';
import { higherIsBetter } from '../training/metrics';
import { readAcceptedDrop, TRAINING_SEED } from '../training/retrain';
import { accumulatorFor, baselineFromStats, driftBaselineSchema, type DriftAccumulator, type DriftBaseline, type DriftFigures, type FeatureBaseline } from './drift';
import { readInferenceLog, type LogReadSummary } from './inference-log-reader';
import type { InferenceLogLine, LoggedValue } from './inference-log';
import { isDue } from './schedule';

export interface EvaluationDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly retrainQueue: RetrainQueue;
  readonly log: Logger;
  readonly telemetry: Telemetry;
}

/** Thresholds a model's definition may override (`evaluation` block); these are the documented defaults. */
export const EVALUATION_DEFAULTS = { driftThreshold: 0.2, decayThreshold: 0.1, dataQualityThreshold: 0.1, minRows: 500 } as const;

export interface EvaluateOptions {
  readonly trigger: 'schedule' | 'manual';
  /** When the evaluation runs: the window's end. @default now */
  readonly now?: Date;
}

export type EvaluationOutcome =
  | { readonly kind: 'evaluated'; readonly evaluation: EvaluationDocument }
  /** Another evaluation recorded the same window first (a duplicate timer delivery, or a manual run at the same moment). */
  | { readonly kind: 'already-evaluated'; readonly evaluation: EvaluationDocument | undefined }
  | { readonly kind: 'skipped'; readonly reason: string };

/** Where an evaluation's durable record lives, beside the model's versions (`models/{model}/evaluations/…`). */
export function evaluationRecordPath(model: string, windowStart: string): string {
  return `${model}/evaluations/${windowStart}.json`;
}

/**
 * Evaluates a model's production version (and its challenger, when it has one) over the window
 * since the last evaluation: quality on labelled drops it was not trained on against its
 * training-time metrics, drift of the sampled inference inputs and predictions against the
 * training baseline, and the data quality of those inputs. Records the evaluation, and when drift
 * or decay trips a threshold asks for one retrain per window (the key is the window's) and logs a
 * warning naming what tripped.
 */
export async function evaluateModel(deps: EvaluationDeps, model: string, options: EvaluateOptions): Promise<EvaluationOutcome> {
  const modelDoc = await deps.registry.getModel(model);
  if (!modelDoc) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
  const productionVersion = modelDoc.aliases.production;
  if (productionVersion === undefined) return { kind: 'skipped', reason: `Model "${model}" has no production version to evaluate.` };
  const production = await deps.registry.getVersion(model, productionVersion);
  if (!production) return { kind: 'skipped', reason: `Production version ${productionVersion} of "${model}" is not registered.` };
  const challengerVersion = modelDoc.aliases.challenger;
  const challenger = challengerVersion !== undefined && challengerVersion !== productionVersion ? await deps.registry.getVersion(model, challengerVersion) : undefined;

  const [last] = await deps.registry.listEvaluations(model, { limit: 1 });
  const now = options.now ?? new Date();
  const windowStart = last?.windowEnd ?? windowEdge(new Date(production.createdAt));
  const windowEnd = windowEdge(now);
  if (windowStart >= windowEnd) {
    const since = last ? `has been evaluated up to ${windowStart}` : `has had version ${production.version} in production only since ${production.createdAt}`;
    return { kind: 'skipped', reason: `Model "${model}" ${since}; the next window closes a few seconds from now.` };
  }

  const thresholds = thresholdsOf(modelDoc.definition);
  const window = { start: new Date(windowStart), end: new Date(windowEnd) };
  const subjects = [
    { doc: production, alias: 'production' },
    ...(challenger ? [{ doc: challenger, alias: 'challenger' }] : []),
  ];
  const monitors = await Promise.all(subjects.map(async (s) => new VersionMonitor(s.doc, s.alias, await baselineOf(deps, s.doc), modelDoc.contract)));
  const summary: LogReadSummary = { blobs: 0, lines: 0, malformed: 0 };
  const byVersion = new Map(monitors.map((m) => [m.version.version, m]));
  for await (const lines of readInferenceLog(deps.blobs, model, window.start, window.end, summary)) for (const line of lines) byVersion.get(line.version)?.add(line);
  if (summary.malformed) deps.log.warn(`Evaluation of "${model}": ${summary.malformed} malformed inference-log line(s) skipped.`);

  const datasets = (await deps.registry.listDatasets(model)).filter(
    (d) => d.status === 'accepted' && d.receivedAt >= windowStart && d.receivedAt < windowEnd,
  );
  const evaluations: VersionEvaluation[] = [];
  for (const monitor of monitors) {
    const quality = await qualityOf(deps, modelDoc, monitor.version, datasets, thresholds);
    evaluations.push({ version: monitor.version.version, alias: monitor.alias, quality, drift: monitor.drift(thresholds) });
  }
  const [productionEvaluation, challengerEvaluation] = evaluations as [VersionEvaluation, VersionEvaluation | undefined];
  const { findings, tripped, warning } = findingsOf(productionEvaluation, thresholds);
  const alert = tripped.length > 0;
  const measured = productionEvaluation.quality.status === 'measured' || productionEvaluation.drift.status === 'measured';

  let retrain: EvaluationDocument['retrain'];
  if (alert && modelDoc.definition.evaluation?.retrain !== false) {
    // The key is the window's: however often this window is evaluated, it never trains twice.
    retrain = { reason: productionEvaluation.quality.decayed ? 'decay' : 'drift', key: `evaluation:${model}:${windowStart}` };
  }

  const evaluation: EvaluationDocument = {
    id: evaluationId(windowStart),
    type: 'evaluation',
    model,
    windowStart,
    windowEnd,
    evaluatedAt: now.toISOString(),
    trigger: options.trigger,
    status: alert ? 'alert' : warning ? 'warning' : measured ? 'healthy' : 'insufficient-data',
    thresholds: { drift: thresholds.driftThreshold, decay: thresholds.decayThreshold, dataQuality: thresholds.dataQualityThreshold, minRows: thresholds.minRows },
    production: productionEvaluation,
    ...(challengerEvaluation ? { challenger: challengerEvaluation } : {}),
    findings,
    ...(retrain ? { retrain } : {}),
  };
  // Recording the evaluation claims its window: of two evaluations of one window (a duplicate timer
  // delivery, a manual run at the same moment) only the one that records it asks for a retrain.
  let recorded: EvaluationDocument;
  try {
    recorded = await deps.registry.createEvaluation(evaluation);
  } catch (err) {
    if (!(err instanceof ModelloopError && err.code === 'Conflict')) throw err;
    const existing = (await deps.registry.listEvaluations(model, { from: windowStart })).find((e) => e.id === evaluation.id);
    return { kind: 'already-evaluated', evaluation: existing };
  }
  if (retrain) {
    try {
      await deps.retrainQueue.send({ model, reason: retrain.reason, requestedAt: now.toISOString(), key: retrain.key });
    } catch (err) {
      // Give the window back, so the next run evaluates it again and asks again.
      await deps.registry.deleteEvaluation(model, evaluation.id).catch(() => undefined);
      throw err;
    }
  }
  await deps.blobs.writeJson(CONTAINERS.models, evaluationRecordPath(model, windowStart), evaluation);
  report(deps, evaluation, tripped, summary);
  return { kind: 'evaluated', evaluation: recorded };
}

export interface DueOptions {
  /** The schedule of models whose definition names none (EVALUATION_SCHEDULE). */
  readonly defaultSchedule: string;
  readonly now?: Date;
}

/**
 * What the timer runs: every model with a production version whose schedule (its own, or the
 * default) has come due since its last evaluation. A model that fails is logged and the others go on.
 */
export async function evaluateDueModels(deps: EvaluationDeps, options: DueOptions): Promise<{ model: string; outcome: EvaluationOutcome | { kind: 'failed'; reason: string } }[]> {
  const now = options.now ?? new Date();
  const results: { model: string; outcome: EvaluationOutcome | { kind: 'failed'; reason: string } }[] = [];
  for (const modelDoc of await deps.registry.listModels()) {
    if (modelDoc.aliases.production === undefined) continue;
    const model = modelDoc.model;
    try {
      const [last] = await deps.registry.listEvaluations(model, { limit: 1 });
      const schedule = modelDoc.definition.evaluation?.schedule ?? options.defaultSchedule;
      if (!isDue(schedule, last ? new Date(last.evaluatedAt) : undefined, now)) continue;
      results.push({ model, outcome: await evaluateModel(deps, model, { trigger: 'schedule', now }) });
    } catch (err) {
      const reason = ensureError(err).message;
      deps.log.error(`Evaluation of "${model}" failed: ${reason}`);
      results.push({ model, outcome: { kind: 'failed', reason } });
    }
  }
  return results;
}

/**
 * Storage stamps a blob's last-modified time in whole seconds, and a blob still being written is
 * not listed yet; windows therefore end on a whole second, a little behind the clock, so every log
 * blob falls in exactly one window.
 */
const WINDOW_LAG_MS = 2000;

function windowEdge(at: Date): string {
  return new Date(Math.floor(at.getTime() / 1000) * 1000 - WINDOW_LAG_MS).toISOString();
}

type Thresholds = { -readonly [K in keyof typeof EVALUATION_DEFAULTS]: number };

function thresholdsOf(definition: ModelDefinition): Thresholds {
  const own = definition.evaluation ?? {};
  return {
    driftThreshold: own.driftThreshold ?? EVALUATION_DEFAULTS.driftThreshold,
    decayThreshold: own.decayThreshold ?? EVALUATION_DEFAULTS.decayThreshold,
    dataQualityThreshold: own.dataQualityThreshold ?? EVALUATION_DEFAULTS.dataQualityThreshold,
    minRows: own.minRows ?? EVALUATION_DEFAULTS.minRows,
  };
}

/** The version's drift baseline: exact from its manifest, else rebuilt from its feature statistics. */
async function baselineOf(deps: EvaluationDeps, version: VersionDocument): Promise<DriftBaseline | undefined> {
  let manifest: Manifest;
  try {
    const read = await readManifest(deps.blobs, version.model, version.version);
    if (!read) return undefined;
    manifest = read;
  } catch (err) {
    deps.log.warn(`The manifest of "${version.model}" version ${version.version} could not be read for its drift baseline: ${ensureError(err).message}`);
    return undefined;
  }
  if (manifest.driftBaseline) return driftBaselineSchema.parse(manifest.driftBaseline);
  const features: Record<string, FeatureBaseline> = {};
  for (const [name, stats] of Object.entries(manifest.featureStats)) {
    const baseline = baselineFromStats(stats as Parameters<typeof baselineFromStats>[0]);
    if (baseline) features[name] = baseline;
  }
  return Object.keys(features).length ? { features } : undefined;
}

/**
 * One version's drift accumulators: each baselined input and the predictions, fed one log line at a
 * time. Trained versions log one named input per feature; imported ones carry no training baseline.
 */
class VersionMonitor {
  readonly #inputs = new Map<string, DriftAccumulator>();
  readonly #prediction: DriftAccumulator | undefined;
  readonly #predictionOutput: string | undefined;
  readonly #hasBaseline: boolean;
  #rows = 0;

  constructor(
    readonly version: VersionDocument,
    readonly alias: string,
    baseline: DriftBaseline | undefined,
    contract: DataContract | undefined,
  ) {
    this.#hasBaseline = baseline !== undefined;
    for (const [name, feature] of Object.entries(baseline?.features ?? {})) {
      const spec = contract?.features[name];
      this.#inputs.set(name, accumulatorFor(feature, { min: spec?.min, max: spec?.max }));
    }
    if (baseline?.prediction) {
      this.#prediction = accumulatorFor(baseline.prediction);
      this.#predictionOutput = version.task === 'classification' ? (version.outputs.find((o) => o.type === 'string' || o.type === 'int64')?.name ?? 'label') : (version.outputs[0]?.name ?? 'variable');
    }
  }

  add(line: InferenceLogLine): void {
    this.#rows++;
    for (const [name, accumulator] of this.#inputs) accumulator.add(scalar(line.inputs[name]));
    if (this.#prediction && this.#predictionOutput) this.#prediction.add(scalar(line.outputs[this.#predictionOutput]));
  }

  drift(thresholds: Thresholds): VersionEvaluation['drift'] {
    const judge = (figures: DriftFigures): VersionEvaluation['drift']['features'][string] => ({
      ...figures,
      ...(figures.range ? { range: { min: finiteOrNull(figures.range.min), max: finiteOrNull(figures.range.max), from: figures.range.from } } : {}),
      drifted: figures.value !== undefined && figures.rows >= thresholds.minRows && figures.value > thresholds.driftThreshold,
    });
    const features = Object.fromEntries([...this.#inputs].map(([name, acc]) => [name, judge(acc.figures())]));
    const prediction = this.#prediction ? judge(this.#prediction.figures()) : undefined;
    const drifted = [...Object.entries(features).filter(([, f]) => f.drifted).map(([name]) => name), ...(prediction?.drifted ? ['(prediction)'] : [])];
    if (!this.#hasBaseline) {
      return { status: 'no-baseline', message: `Version ${this.version.version} has no training baseline (imported without feature statistics).`, rows: this.#rows, features, drifted };
    }
    if (this.#rows < thresholds.minRows) {
      return {
        status: 'too-few-rows',
        message: `${this.#rows} sampled scoring row(s) of version ${this.version.version} in the window; drift needs at least ${thresholds.minRows} (evaluation.minRows).`,
        rows: this.#rows,
        features,
        ...(prediction ? { prediction } : {}),
        drifted: [],
      };
    }
    return {
      status: 'measured',
      message: drifted.length ? `Drift in ${drifted.join(', ')}.` : `No drift over ${this.#rows} sampled scoring rows.`,
      rows: this.#rows,
      features,
      ...(prediction ? { prediction } : {}),
      drifted,
    };
  }
}

function scalar(value: LoggedValue | undefined): unknown {
  return Array.isArray(value) ? value[0] : value;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/**
 * The version's metrics on the window's accepted drops that it was not trained on and that
 * arrived after it was trained, against the metrics it was registered with.
 */
async function qualityOf(
  deps: EvaluationDeps,
  modelDoc: ModelDocument,
  version: VersionDocument,
  windowDatasets: readonly DatasetDocument[],
  thresholds: Thresholds,
): Promise<VersionEvaluation['quality']> {
  const primaryMetric = primaryMetricOf(modelDoc.definition);
  const trainedOn = new Set(version.datasets);
  const fresh = windowDatasets.filter((d) => !trainedOn.has(d.datasetId) && d.receivedAt > version.createdAt);
  const base = { primaryMetric, trainingMetrics: version.metrics, decayed: false, datasets: fresh.map((d) => d.datasetId) };
  if (fresh.length === 0) return { ...base, status: 'no-new-data', message: `No labelled drop arrived in the window that version ${version.version} was not trained on.`, rows: 0 };
  const contract = modelDoc.contract;
  const plan = contract ? planFeeds(version.inputs, contract, version.featureNames) : { ok: false as const, reason: 'the model has no data contract' };
  if (!plan.ok) return { ...base, status: 'failed', message: `Version ${version.version} cannot be scored on the model's data: ${plan.reason}.`, rows: 0 };
  try {
    const drops = [];
    for (const dataset of [...fresh].reverse()) {
      const drop = await readAcceptedDrop(deps, modelDoc.model, dataset);
      if (drop) drops.push(drop);
    }
    const holdout = await buildHoldoutInWorker({ definition: modelDoc.definition, contract: contract!, datasets: drops, seed: TRAINING_SEED, holdoutFraction: 0, allRows: true });
    if (holdout.rows < thresholds.minRows) {
      return { ...base, status: 'too-few-rows', message: `${holdout.rows} new labelled row(s); decay needs at least ${thresholds.minRows} (evaluation.minRows).`, rows: holdout.rows };
    }
    const artifact = await deps.blobs.read(CONTAINERS.models, artifactPath(version.model, version.version));
    if (!artifact) throw new Error(`the artifact of version ${version.version} is missing`);
    const runner = await inProcessRunner(artifact.bytes);
    let metrics: Record<string, number>;
    try {
      ({ metrics } = await scoreOnHoldout(runner, holdout, version));
    } finally {
      await runner.close();
    }
    const now = metrics[primaryMetric];
    const then = version.metrics[primaryMetric];
    if (now === undefined || then === undefined || !Number.isFinite(now) || !Number.isFinite(then)) {
      return { ...base, status: 'measured', message: `${primaryMetric} could not be compared with training.`, rows: holdout.rows, metrics };
    }
    const worse = higherIsBetter(primaryMetric) ? then - now : now - then;
    const worsening = worse / Math.max(Math.abs(then), 1e-9);
    const decayed = worsening > thresholds.decayThreshold;
    const message =
      `${primaryMetric} ${fmt(now)} on ${holdout.rows} new labelled rows vs ${fmt(then)} at training` +
      (worsening >= 0 ? `: ${percent(worsening)} worse` : `: ${percent(-worsening)} better`) +
      (decayed ? ` (decay threshold ${percent(thresholds.decayThreshold)})` : '');
    return { ...base, status: 'measured', message, rows: holdout.rows, metrics, worsening, decayed };
  } catch (err) {
    return { ...base, status: 'failed', message: `Version ${version.version} could not be scored on the new drops: ${ensureError(err).message}`, rows: 0 };
  }
}

/** What tripped, in words: decay and drift are alerts; data-quality findings are warnings. */
/** One measure over its threshold, as the `DriftAlert` telemetry event names it. */
interface Tripped {
  readonly metric: string;
  readonly value: number | undefined;
  readonly threshold: number;
}

/** What tripped, in words and as events: decay and drift are alerts; data-quality findings are warnings. */
function findingsOf(evaluation: VersionEvaluation, thresholds: Thresholds): { findings: string[]; tripped: Tripped[]; warning: boolean } {
  const findings: string[] = [];
  const tripped: Tripped[] = [];
  let warning = false;
  if (evaluation.quality.decayed) {
    tripped.push({ metric: `decay:${evaluation.quality.primaryMetric}`, value: evaluation.quality.worsening, threshold: thresholds.decayThreshold });
    findings.push(`decay: ${evaluation.quality.message}`);
  }
  const measureName = (f: { measure: string }): string => (f.measure === 'psi' ? 'PSI' : 'Jensen–Shannon distance');
  const drift = evaluation.drift;
  if (drift.status === 'measured') {
    for (const [name, f] of Object.entries(drift.features)) {
      if (f.drifted) {
        tripped.push({ metric: `drift:${name}`, value: f.value, threshold: thresholds.driftThreshold });
        findings.push(`drift: ${name} ${measureName(f)} ${fmt(f.value!)} > ${thresholds.driftThreshold} over ${f.rows} sampled rows`);
      }
    }
    if (drift.prediction?.drifted) {
      tripped.push({ metric: 'drift:(prediction)', value: drift.prediction.value, threshold: thresholds.driftThreshold });
      findings.push(`prediction drift: ${measureName(drift.prediction)} ${fmt(drift.prediction.value!)} > ${thresholds.driftThreshold} over ${drift.prediction.rows} sampled rows`);
    }
    const limit = thresholds.dataQualityThreshold;
    for (const [name, f] of Object.entries(drift.features)) {
      if (f.nullRate - f.baselineNullRate > limit) {
        warning = true;
        findings.push(`data quality: ${name} null rate ${percent(f.nullRate)} vs ${percent(f.baselineNullRate)} in training`);
      }
      if ((f.outOfRangeRate ?? 0) > limit) {
        warning = true;
        findings.push(`data quality: ${name} ${percent(f.outOfRangeRate!)} of values outside the ${f.range?.from} range [${f.range?.min ?? '-∞'}, ${f.range?.max ?? '∞'}]`);
      }
      if ((f.unseenRate ?? 0) > limit) {
        warning = true;
        findings.push(`data quality: ${name} ${percent(f.unseenRate!)} of values never seen in training (e.g. ${(f.unseenExamples ?? []).slice(0, 3).map((v) => JSON.stringify(v)).join(', ')})`);
      }
    }
  }
  return { findings, tripped, warning };
}

function report(deps: EvaluationDeps, evaluation: EvaluationDocument, tripped: readonly Tripped[], summary: LogReadSummary): void {
  const { model, production } = evaluation;
  const head = `Evaluation of "${model}" version ${production.version} over ${evaluation.windowStart} – ${evaluation.windowEnd} (${summary.lines} sampled rows from ${summary.blobs} log blob(s))`;
  if (evaluation.status === 'alert' || evaluation.status === 'warning') {
    const action = evaluation.retrain ? ` Retrain requested (reason ${evaluation.retrain.reason}, key ${evaluation.retrain.key}).` : '';
    deps.log.warn(`${head}: ${evaluation.status}. ${evaluation.findings.join('; ')}.${action}`);
  } else {
    deps.log.info(`${head}: ${evaluation.status}. ${production.drift.message} ${production.quality.message}`);
  }
  for (const t of tripped) deps.telemetry.event('DriftAlert', { model, version: production.version, ...t });
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}
