import { categoryStats, checkTable, numericStats, type ColumnStats, type ColumnValues, type DataContract } from '../data/data-contract';
import { primaryMetricOf, type ModelDefinition } from '../data/model-definition';
import { readDrop } from '../data/read-drop';
import { categoryBaseline, numericBaseline, type DriftBaseline, type FeatureBaseline } from '../monitoring/drift';
import { exportPipeline } from '../onnx/export-pipeline';
import { OUTPUT_LABEL, OUTPUT_PROBABILITIES, OUTPUT_VALUE, type PipelineFeature, type PipelineSpec } from '../onnx/pipeline-spec';
import type { SignatureField } from '../registry/documents';
import { designMatrix, fitPreprocessing, type TrainingTable } from './design-matrix';
import { fitGbdt, type GbdtObjective, type GbdtOptions } from './gbdt';
import { predictPipeline, treeData } from './predict-pipeline';
import { fitLogisticRegression } from './logistic-regression';
import { classificationMetrics, higherIsBetter, regressionMetrics } from './metrics';
import { fitRidge } from './ridge-regression';
import { splitRows, type Split } from './split';

export interface TrainingDataset {
  readonly datasetId: string;
  readonly file: string;
  readonly bytes: Uint8Array;
}

/** Everything a training run needs, as plain data, so it can cross into a worker thread. */
export interface TrainingJob {
  readonly model: string;
  readonly definition: ModelDefinition;
  readonly contract: DataContract;
  /** Accepted drops, newest first. */
  readonly datasets: readonly TrainingDataset[];
  readonly seed: number;
  readonly holdoutFraction: number;
}

export interface Candidate {
  readonly trainer: string;
  readonly params: Record<string, unknown>;
  readonly metrics: Record<string, number>;
}

export interface TrainingResult {
  readonly onnx: Uint8Array;
  readonly trainer: string;
  readonly primaryMetric: string;
  readonly metrics: Record<string, number>;
  readonly candidates: Candidate[];
  readonly inputs: SignatureField[];
  readonly outputs: SignatureField[];
  /** Fields a scoring request may carry that the model ignores (ids, free text, the target). */
  readonly ignoredInputs: string[];
  readonly labels?: (string | number)[];
  readonly datasets: string[];
  readonly trainingRows: number;
  readonly evaluationRows: number;
  readonly evaluatedOnTraining: boolean;
  readonly featureStats: Record<string, ColumnStats>;
  /** Training distributions of the inputs and of the predictions: what drift monitoring compares with. */
  readonly driftBaseline: DriftBaseline;
}

export interface TrainingControl {
  progress(message: string): void;
  /** True once the run should stop (cancelled, or out of time). */
  cancelled(): boolean;
}

export class TrainingError extends Error {
  override readonly name = 'TrainingError';
}

const L2 = 1;

/** GBDT settings the built-in trainer uses: scikit-learn's HistGradientBoosting defaults. */
const GBDT_DEFAULTS = { rounds: 100, learningRate: 0.1, maxLeaves: 31, minSamplesLeaf: 20, l2: 1, maxBins: 255 } as const;
/** Early stopping holds out part of the training rows; below this many rows every row is worth more for fitting. */
const EARLY_STOPPING_MIN_ROWS = 10_000;
const EARLY_STOPPING_FRACTION = 0.1;

/** One trained candidate with its scoring pipeline, kept until the best is chosen and exported. */
export interface Fitted {
  readonly candidate: Candidate;
  readonly spec: PipelineSpec;
}

/** What every trainer gets: the rows, their split and the learned feature encodings. */
export interface Prepared {
  readonly job: TrainingJob;
  readonly table: TrainingTable;
  readonly split: Split;
  readonly features: PipelineFeature[];
  readonly labels: (string | number)[] | undefined;
  /** Class indices (classification) or values (regression), per table row. */
  readonly y: Int32Array | Float64Array;
  readonly control: TrainingControl;
}

/**
 * Trains every trainer the definition allows (default: linear, then gbdt) on one seeded split,
 * evaluates each on the held-out rows, picks the best by the definition's primary metric (ties go
 * to the trainer listed first) and exports it as the scoring pipeline. Every candidate's metrics
 * and parameters are returned.
 */
export function trainModel(job: TrainingJob, control: TrainingControl): TrainingResult {
  const { prepared, fitted, datasets } = trainCandidates(job, control);
  const { table, split, features, labels } = prepared;
  const primaryMetric = primaryMetricOf(job.definition);
  const metricOf = (c: Candidate): number => c.metrics[primaryMetric] ?? Number.NaN;
  let best = fitted[0]!;
  for (const f of fitted.slice(1)) {
    const a = metricOf(f.candidate);
    const b = metricOf(best.candidate);
    if (Number.isNaN(b) || (higherIsBetter(primaryMetric) ? a > b : a < b)) best = f;
  }
  const { trainer, metrics } = best.candidate;
  control.progress(`Chose ${trainer}: ${primaryMetric} ${metrics[primaryMetric]?.toFixed(4)}.`);
  const onnx = exportPipeline({ ...best.spec, metadata: { 'modelloop.model': job.model, 'modelloop.trainer': trainer } });
  const featureStats = featureStatsOf(job.contract, table, split.train);
  return {
    onnx,
    trainer,
    primaryMetric,
    metrics,
    candidates: fitted.map((f) => f.candidate),
    inputs: features.map((f) => inputField(f, job.contract)),
    outputs: labels
      ? [
          { name: OUTPUT_LABEL, type: job.contract.target.labelType === 'integer' ? 'int64' : 'string', shape: [-1] },
          { name: OUTPUT_PROBABILITIES, type: 'float', shape: [-1, labels.length] },
        ]
      : [{ name: OUTPUT_VALUE, type: 'float', shape: [-1, 1] }],
    ignoredInputs: [
      job.contract.target.name,
      ...Object.keys(job.contract.excluded),
      ...Object.entries(job.contract.features)
        .filter(([name]) => !features.some((f) => f.name === name))
        .map(([name]) => name),
    ],
    ...(labels ? { labels } : {}),
    datasets,
    trainingRows: split.train.length,
    evaluationRows: split.evaluation.length,
    evaluatedOnTraining: split.evaluatedOnTraining,
    featureStats,
    driftBaseline: driftBaselineOf(prepared, best.spec, featureStats),
  };
}

/** Reads the drops, splits the rows and fits every allowed trainer, in the definition's order. */
export function trainCandidates(job: TrainingJob, control: TrainingControl): { prepared: Prepared; fitted: Fitted[]; datasets: string[] } {
  const { table, datasets } = assembleTable(job, control);
  if (table.rows === 0) throw new TrainingError(`Model "${job.model}" has no accepted rows to train on.`);
  let labels: (string | number)[] | undefined;
  let y: Int32Array | Float64Array;
  let split: Split;
  if (job.definition.task === 'classification') {
    const classes = classesOf(table.target, job.contract.target.labelType === 'integer');
    labels = classes.labels;
    if (labels.length < 2) {
      throw new TrainingError(`Classification needs at least two labels in "${job.contract.target.name}"; the accepted rows only have ${JSON.stringify(labels[0])}.`);
    }
    y = classes.y;
    split = splitRows(table.rows, job.holdoutFraction, job.seed, y);
  } else {
    y = Float64Array.from(table.target as number[]);
    split = splitRows(table.rows, job.holdoutFraction, job.seed);
  }
  const features = fitPreprocessing(job.contract, table, split.train);
  if (features.length === 0) throw new TrainingError(`Model "${job.model}" has no feature a trainer can use (only text or identifier columns).`);
  const prepared: Prepared = { job, table, split, features, labels, y, control };

  // By default the simpler model comes first, so it wins a tie.
  const trainers = job.definition.trainers ?? ['linear', 'gbdt'];
  const fitted: Fitted[] = [];
  for (const trainer of trainers) {
    if (control.cancelled()) throw new TrainingError('Training was cancelled or ran out of its time budget.');
    const result = trainer === 'gbdt' ? fitGbdtCandidate(prepared) : fitLinearCandidate(prepared);
    fitted.push(result);
    control.progress(`Candidate ${result.candidate.trainer}: ${describeMetrics(result.candidate.metrics)} on ${split.evaluation.length} evaluation rows.`);
  }
  return { prepared, fitted, datasets };
}

function describeMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([name, value]) => `${name} ${value.toFixed(4)}`)
    .join(', ');
}

function fitLinearCandidate(p: Prepared): Fitted {
  const { job, table, split, features, labels, control } = p;
  const train = designMatrix(features, table, split.train);
  if (labels) {
    const y = p.y as Int32Array;
    control.progress(`Training logistic regression on ${split.train.length} rows × ${train.cols} columns, ${labels.length} classes.`);
    const fitted = fitLogisticRegression(train.x, split.train.length, train.cols, pick(y, split.train), labels.length, {
      l2: L2,
      onIteration: (iteration, loss) => {
        if (iteration % 20 === 0) control.progress(`logistic regression iteration ${iteration}: loss ${loss.toFixed(5)}`);
        return !control.cancelled();
      },
    });
    if (control.cancelled()) throw new TrainingError('Training was cancelled or ran out of its time budget.');
    const spec: PipelineSpec = {
      name: job.model,
      description: `modelloop ${job.model}: logistic regression on ${split.train.length} rows`,
      features,
      model: { kind: 'linear-classifier', labels: labels as string[] | number[], coefficients: fitted.coefficients, intercepts: fitted.intercepts },
    };
    const metrics = classificationMetrics(pick(y, split.evaluation), predictPipeline(spec, table, split.evaluation), labels.length);
    return { candidate: { trainer: 'logistic-regression', params: { l2: L2, solver: 'lbfgs', iterations: fitted.iterations, converged: fitted.converged }, metrics }, spec };
  }
  const y = p.y as Float64Array;
  control.progress(`Training ridge regression on ${split.train.length} rows × ${train.cols} columns.`);
  const fitted = fitRidge(train.x, split.train.length, train.cols, pickFloat(y, split.train), { l2: L2 });
  const spec: PipelineSpec = {
    name: job.model,
    description: `modelloop ${job.model}: ridge regression on ${split.train.length} rows`,
    features,
    model: { kind: 'linear-regressor', coefficients: fitted.coefficients, intercept: fitted.intercept },
  };
  const metrics = regressionMetrics(pickFloat(y, split.evaluation), predictPipeline(spec, table, split.evaluation));
  return { candidate: { trainer: 'ridge-regression', params: { l2: L2, solver: 'cholesky' }, metrics }, spec };
}

function fitGbdtCandidate(p: Prepared): Fitted {
  const { job, table, split, features, labels, control } = p;
  const objective: GbdtObjective = !labels ? 'regression' : labels.length === 2 ? 'binary' : 'multiclass';
  // Early stopping watches a seeded slice of the training rows (stratified for classification).
  let fitRows = split.train;
  let stopRows: Int32Array | undefined;
  if (split.train.length >= EARLY_STOPPING_MIN_ROWS) {
    const inner = splitRows(split.train.length, EARLY_STOPPING_FRACTION, job.seed + 1, labels ? pick(p.y as Int32Array, split.train) : undefined);
    fitRows = pick(split.train, inner.train);
    stopRows = pick(split.train, inner.evaluation);
  }
  const options: GbdtOptions = {
    objective,
    ...(labels && labels.length > 2 ? { classes: labels.length } : {}),
    ...GBDT_DEFAULTS,
    seed: job.seed,
    earlyStoppingRounds: 10,
    onRound: (round, trainLoss, validationLoss) => {
      if (round % 10 === 0) {
        const validation = validationLoss === undefined ? '' : `, validation loss ${validationLoss.toFixed(5)}`;
        control.progress(`gradient-boosted trees round ${round}: training loss ${trainLoss.toFixed(5)}${validation}`);
      }
      return !control.cancelled();
    },
  };
  control.progress(`Training gradient-boosted trees (${objective}) on ${fitRows.length} rows × ${features.length} features${stopRows ? `, early stopping on ${stopRows.length} rows` : ''}.`);
  const target = (rows: Int32Array): Float64Array => Float64Array.from(rows, (r) => p.y[r]!);
  const model = fitGbdt(treeData(features, table, fitRows), target(fitRows), options, stopRows ? { data: treeData(features, table, stopRows), y: target(stopRows) } : undefined);
  if (control.cancelled()) throw new TrainingError('Training was cancelled or ran out of its time budget.');
  const spec: PipelineSpec = {
    name: job.model,
    description: `modelloop ${job.model}: gradient-boosted trees on ${fitRows.length} rows`,
    features,
    model: labels
      ? { kind: 'tree-ensemble-classifier', labels: labels as string[] | number[], baseScores: model.baseScores, trees: model.trees }
      : { kind: 'tree-ensemble-regressor', baseScores: model.baseScores, trees: model.trees },
  };
  const predicted = predictPipeline(spec, table, split.evaluation);
  const metrics = labels
    ? classificationMetrics(pick(p.y as Int32Array, split.evaluation), predicted, labels.length)
    : regressionMetrics(pickFloat(p.y as Float64Array, split.evaluation), predicted);
  const { onRound: _onRound, ...params } = options;
  const fittedParams = { ...params, trees: model.trees.length, roundsRun: model.rounds, bestRound: model.bestRound, stoppedEarly: model.stoppedEarly };
  return { candidate: { trainer: 'gradient-boosted-trees', params: fittedParams, metrics }, spec };
}

/**
 * Reads the accepted drops (newest first, up to the window's `maxRows`) into one table. The
 * promotion policy rebuilds the evaluation rows with it too, so both see exactly the same rows.
 */
export function assembleTable(
  job: Pick<TrainingJob, 'definition' | 'contract'> & { readonly datasets: readonly { readonly datasetId?: string; readonly file: string; readonly bytes: Uint8Array }[] },
  control: Pick<TrainingControl, 'progress'> = { progress: () => {} },
): { table: TrainingTable; datasets: string[] } {
  const maxRows = job.definition.training?.window?.maxRows ?? Number.POSITIVE_INFINITY;
  const parts: { columns: Record<string, ColumnValues>; target: (string | number)[] }[] = [];
  const datasets: string[] = [];
  let rows = 0;
  for (const dataset of job.datasets) {
    if (rows >= maxRows) break;
    const checked = checkTable(readDrop(dataset.bytes, dataset.file), job.contract);
    if (checked.missingColumns.length) continue;
    const take = Math.min(checked.acceptedRows, maxRows - rows);
    parts.push({
      columns: Object.fromEntries(Object.entries(checked.columns).map(([name, values]) => [name, values.slice(0, take)])),
      target: checked.target.slice(0, take),
    });
    if (dataset.datasetId) datasets.push(dataset.datasetId);
    rows += take;
    control.progress(`Read ${dataset.file}: ${take} rows.`);
  }
  const columns: Record<string, ColumnValues> = {};
  for (const [name, spec] of Object.entries(job.contract.features)) {
    const pieces = parts.map((p) => p.columns[name]!);
    if (spec.type === 'category' || spec.type === 'string') {
      columns[name] = pieces.flatMap((p) => p as (string | null)[]);
    } else {
      const merged = new Float64Array(rows);
      let offset = 0;
      for (const piece of pieces) {
        merged.set(piece as Float64Array, offset);
        offset += piece.length;
      }
      columns[name] = merged;
    }
  }
  return { table: { rows, columns, target: parts.flatMap((p) => p.target) }, datasets };
}

/** The labels, sorted as every model stores them, and each row's class index. */
export function classesOf(target: readonly (string | number)[], integers: boolean): { labels: (string | number)[]; y: Int32Array } {
  const labels = integers ? [...new Set(target.map(Number))].sort((a, b) => a - b) : [...new Set(target.map(String))].sort();
  const index = new Map(labels.map((label, k) => [String(label), k]));
  return { labels, y: Int32Array.from(target, (label) => index.get(String(integers ? Number(label) : label))!) };
}

function inputField(feature: PipelineFeature, contract: DataContract): SignatureField {
  const spec = contract.features[feature.name]!;
  return {
    name: feature.name,
    type: feature.kind === 'numeric' ? 'float' : 'string',
    shape: [-1, 1],
    featureType: spec.type,
    nullable: spec.nullable ?? false,
  };
}

function featureStatsOf(contract: DataContract, table: TrainingTable, rows: Int32Array): Record<string, ColumnStats> {
  const stats: Record<string, ColumnStats> = {};
  for (const [name, spec] of Object.entries(contract.features)) {
    const column = table.columns[name];
    if (!column) continue;
    stats[name] =
      column instanceof Float64Array
        ? numericStats(spec.type, pickFloat(column, rows))
        : categoryStats(spec.type, Array.from(rows, (r) => (column as (string | null)[])[r] ?? null));
  }
  return stats;
}

/**
 * The drift baseline: each model input's training values binned on its training deciles (or
 * counted per category), and the chosen pipeline's predictions on the evaluation rows.
 */
function driftBaselineOf(p: Prepared, spec: PipelineSpec, stats: Record<string, ColumnStats>): DriftBaseline {
  const { table, split, features, labels } = p;
  const baselines: Record<string, FeatureBaseline> = {};
  for (const { name } of features) {
    const column = table.columns[name];
    if (!column) continue;
    baselines[name] =
      column instanceof Float64Array
        ? numericBaseline(pickFloat(column, split.train), stats[name]?.quantiles)
        : categoryBaseline(Array.from(split.train, (r) => (column as (string | null)[])[r] ?? null));
  }
  const predicted = predictPipeline(spec, table, split.evaluation);
  if (!labels) return { features: baselines, prediction: numericBaseline(predicted) };
  const k = labels.length;
  const chosen = Array.from(split.evaluation, (_, i) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (predicted[i * k + c]! > predicted[i * k + best]!) best = c;
    return labels[best]!;
  });
  return { features: baselines, prediction: categoryBaseline(chosen) };
}

function pick(values: Int32Array, rows: Int32Array): Int32Array {
  const out = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = values[rows[i]!]!;
  return out;
}

function pickFloat(values: Float64Array, rows: Int32Array): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = values[rows[i]!]!;
  return out;
}
