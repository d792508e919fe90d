import { categoryStats, checkTable, numericStats, type ColumnStats, type ColumnValues, type DataContract } from '../data/data-contract';
import { primaryMetricOf, type ModelDefinition } from '../data/model-definition';
import { readDrop } from '../data/read-drop';
import { exportPipeline } from '../onnx/export-pipeline';
import { OUTPUT_LABEL, OUTPUT_PROBABILITIES, OUTPUT_VALUE, type PipelineFeature, type PipelineSpec } from '../onnx/pipeline-spec';
import type { SignatureField } from '../registry/documents';
import { designMatrix, fitPreprocessing, type TrainingTable } from './design-matrix';
import { fitLogisticRegression, predictProbabilities } from './logistic-regression';
import { classificationMetrics, regressionMetrics } from './metrics';
import { fitRidge, predictRidge } from './ridge-regression';
import { splitRows } from './split';

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

/** Trains the model's linear trainer on its accepted drops and exports the scoring pipeline. */
export function trainModel(job: TrainingJob, control: TrainingControl): TrainingResult {
  const { table, datasets } = assembleTable(job, control);
  if (table.rows === 0) throw new TrainingError(`Model "${job.model}" has no accepted rows to train on.`);
  const features = (rows: Int32Array): PipelineFeature[] => fitPreprocessing(job.contract, table, rows);
  const primaryMetric = primaryMetricOf(job.definition);
  const classification = job.definition.task === 'classification';

  let spec: PipelineSpec;
  let metrics: Record<string, number>;
  let labels: (string | number)[] | undefined;
  let params: Record<string, unknown>;
  let split;
  if (classification) {
    labels = labelsOf(table.target, job.contract.target.labelType === 'integer');
    if (labels.length < 2) {
      throw new TrainingError(`Classification needs at least two labels in "${job.contract.target.name}"; the accepted rows only have ${JSON.stringify(labels[0])}.`);
    }
    const integerLabels = job.contract.target.labelType === 'integer';
    const classIndex = new Map(labels.map((label, k) => [String(label), k]));
    const y = Int32Array.from(table.target, (label) => classIndex.get(String(integerLabels ? Number(label) : label))!);
    split = splitRows(table.rows, job.holdoutFraction, job.seed, y);
    const encoded = features(split.train);
    const train = designMatrix(encoded, table, split.train);
    control.progress(`Training logistic regression on ${split.train.length} rows × ${train.cols} columns, ${labels.length} classes.`);
    const fitted = fitLogisticRegression(train.x, split.train.length, train.cols, pick(y, split.train), labels.length, {
      l2: L2,
      onIteration: (iteration, loss) => {
        if (iteration % 20 === 0) control.progress(`iteration ${iteration}: loss ${loss.toFixed(5)}`);
        return !control.cancelled();
      },
    });
    if (control.cancelled()) throw new TrainingError('Training was cancelled or ran out of its time budget.');
    const evaluation = designMatrix(encoded, table, split.evaluation);
    metrics = classificationMetrics(pick(y, split.evaluation), predictProbabilities(fitted, evaluation.x, split.evaluation.length), labels.length);
    params = { l2: L2, solver: 'lbfgs', iterations: fitted.iterations, converged: fitted.converged };
    spec = {
      name: job.model,
      description: `modelloop ${job.model}: logistic regression on ${split.train.length} rows`,
      features: encoded,
      model: { kind: 'linear-classifier', labels: labels as string[] | number[], coefficients: fitted.coefficients, intercepts: fitted.intercepts },
    };
  } else {
    const y = Float64Array.from(table.target as number[]);
    split = splitRows(table.rows, job.holdoutFraction, job.seed);
    const encoded = features(split.train);
    const train = designMatrix(encoded, table, split.train);
    control.progress(`Training ridge regression on ${split.train.length} rows × ${train.cols} columns.`);
    const fitted = fitRidge(train.x, split.train.length, train.cols, pickFloat(y, split.train), { l2: L2 });
    const evaluation = designMatrix(encoded, table, split.evaluation);
    metrics = regressionMetrics(pickFloat(y, split.evaluation), predictRidge(fitted, evaluation.x, split.evaluation.length));
    params = { l2: L2, solver: 'cholesky' };
    spec = {
      name: job.model,
      description: `modelloop ${job.model}: ridge regression on ${split.train.length} rows`,
      features: encoded,
      model: { kind: 'linear-regressor', coefficients: fitted.coefficients, intercept: fitted.intercept },
    };
  }
  control.progress(`Evaluated on ${split.evaluation.length} rows: ${primaryMetric} ${metrics[primaryMetric]?.toFixed(4)}.`);
  const trainer = classification ? 'logistic-regression' : 'ridge-regression';
  const onnx = exportPipeline({ ...spec, metadata: { 'modelloop.model': job.model, 'modelloop.trainer': trainer } });
  return {
    onnx,
    trainer,
    primaryMetric,
    metrics,
    candidates: [{ trainer, params, metrics }],
    inputs: spec.features.map((f) => inputField(f, job.contract)),
    outputs: classification
      ? [
          { name: OUTPUT_LABEL, type: job.contract.target.labelType === 'integer' ? 'int64' : 'string', shape: [-1] },
          { name: OUTPUT_PROBABILITIES, type: 'float', shape: [-1, labels!.length] },
        ]
      : [{ name: OUTPUT_VALUE, type: 'float', shape: [-1, 1] }],
    ignoredInputs: [
      job.contract.target.name,
      ...Object.keys(job.contract.excluded),
      ...Object.entries(job.contract.features)
        .filter(([name]) => !spec.features.some((f) => f.name === name))
        .map(([name]) => name),
    ],
    ...(labels ? { labels } : {}),
    datasets,
    trainingRows: split.train.length,
    evaluationRows: split.evaluation.length,
    evaluatedOnTraining: split.evaluatedOnTraining,
    featureStats: featureStatsOf(job.contract, table, split.train),
  };
}

function assembleTable(job: TrainingJob, control: TrainingControl): { table: TrainingTable; datasets: string[] } {
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
    datasets.push(dataset.datasetId);
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

function labelsOf(target: readonly (string | number)[], integers: boolean): (string | number)[] {
  if (integers) return [...new Set(target.map(Number))].sort((a, b) => a - b);
  return [...new Set(target.map(String))].sort();
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
