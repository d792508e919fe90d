import * as ort from 'onnxruntime-node';
import type { ColumnValues, DataContract } from '../data/data-contract';
import type { ModelDefinition } from '../data/model-definition';
import { classificationMetrics, regressionMetrics } from '../training/metrics';
import { splitRows } from '../training/split';
import { assembleTable, classesOf } from '../training/train-model';
import type { SignatureField } from './documents';

/**
 * The evaluation split of a model's training data, rebuilt exactly as the trainer builds it (the
 * same drops, newest first, the same window, the same seeded and stratified split), so that any
 * version — trained, imported, or the current production one — can be scored on the same rows.
 */
export interface Holdout {
  readonly rows: number;
  /** Feature columns of the evaluation rows only. */
  readonly columns: Record<string, ColumnValues>;
  readonly task: 'classification' | 'regression';
  /** Classification: the labels of the data (sorted as the trainer sorts them) and each row's class index. */
  readonly labels?: (string | number)[];
  readonly classes?: Int32Array;
  /** Regression: each row's target value. */
  readonly values?: Float64Array;
}

export interface HoldoutSource {
  readonly definition: ModelDefinition;
  readonly contract: DataContract;
  /** Accepted drops, newest first. */
  readonly datasets: readonly { readonly file: string; readonly bytes: Uint8Array }[];
  readonly seed: number;
  readonly holdoutFraction: number;
  /** Every row rather than the evaluation split: for data no version was trained on. */
  readonly allRows?: boolean;
}

export function buildHoldout(source: HoldoutSource): Holdout {
  const { table } = assembleTable(source);
  const { target, rows: total } = table;
  const classification = source.definition.task === 'classification';
  const classes = classification ? classesOf(target, source.contract.target.labelType === 'integer') : undefined;
  const labels = classes?.labels;
  const y = classes?.y;
  const rows = source.allRows ? Int32Array.from({ length: total }, (_, i) => i) : splitRows(total, source.holdoutFraction, source.seed, y).evaluation;
  const columns: Record<string, ColumnValues> = {};
  for (const [name, all] of Object.entries(table.columns)) {
    columns[name] = all instanceof Float64Array ? Float64Array.from(rows, (r) => all[r]!) : Array.from(rows, (r) => all[r] ?? null);
  }
  if (classification) return { rows: rows.length, columns, task: 'classification', labels: labels!, classes: Int32Array.from(rows, (r) => y![r]!) };
  return { rows: rows.length, columns, task: 'regression', values: Float64Array.from(rows, (r) => Number(target[r])) };
}

/** A tensor as plain data, so it can cross into a child process and back. */
export interface PlainTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | readonly string[];
}

/** Something that runs one ONNX model: ONNX Runtime in this process, or in an isolated child. */
export interface OnnxRunner {
  run(feeds: Record<string, PlainTensor>): Promise<Record<string, PlainTensor>>;
  close(): Promise<void>;
}

/** ONNX Runtime in this process: for artifacts modelloop wrote or already admitted. */
export async function inProcessRunner(bytes: Uint8Array): Promise<OnnxRunner> {
  const session = await ort.InferenceSession.create(bytes);
  return {
    async run(feeds) {
      const input: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) input[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims as number[]);
      const out = await session.run(input);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { type: t.type, dims: [...t.dims], data: t.data as PlainTensor['data'] }]));
    },
    close: () => session.release(),
  };
}

/** How a version's inputs are fed from the data's columns, or why they cannot be. */
export type FeedPlan = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Whether a signature can be fed from the data contract's columns: each input a named column of
 * a compatible type, or one numeric matrix input whose columns `featureNames` names.
 */
export function planFeeds(inputs: readonly SignatureField[], contract: DataContract, featureNames?: readonly string[]): FeedPlan {
  if (inputs.length === 1 && featureNames && (inputs[0]!.shape.length === 2 && inputs[0]!.shape[1] === featureNames.length)) {
    const bad = featureNames.filter((f) => !isNumeric(contract.features[f]?.type));
    if (bad.length) return { ok: false, reason: `the matrix input "${inputs[0]!.name}" names features that are not numeric columns of the data contract: ${bad.join(', ')}` };
    return { ok: true };
  }
  for (const input of inputs) {
    const spec = contract.features[input.name];
    if (!spec) return { ok: false, reason: `input "${input.name}" is not a column of the data contract (${Object.keys(contract.features).join(', ')})` };
    const wantsString = input.type === 'string';
    if (wantsString !== (spec.type === 'category' || spec.type === 'string')) {
      return { ok: false, reason: `input "${input.name}" is ${input.type} but the column is ${spec.type}` };
    }
    if (input.shape.length > 2 || (input.shape.length === 2 && input.shape[1] !== 1 && input.shape[1] !== -1)) {
      return { ok: false, reason: `input "${input.name}" has shape [${input.shape.join(', ')}]; a column input is [N] or [N, 1]` };
    }
  }
  return { ok: true };
}

function isNumeric(type: string | undefined): boolean {
  return type === 'number' || type === 'integer' || type === 'boolean';
}

/** Rows are scored in batches of this many, so a large evaluation split never needs one huge tensor. */
const BATCH = 8192;

export interface ScoredVersion {
  readonly metrics: Record<string, number>;
  readonly rows: number;
}

/**
 * Scores a version on the holdout and computes the same metrics the trainer reports.
 * `labels` are the version's own labels, in the order of its probabilities output.
 */
export async function scoreOnHoldout(
  runner: OnnxRunner,
  holdout: Holdout,
  signature: { inputs: readonly SignatureField[]; outputs: readonly SignatureField[]; labels?: readonly (string | number)[]; featureNames?: readonly string[] },
): Promise<ScoredVersion> {
  const n = holdout.rows;
  const k = holdout.labels?.length ?? 0;
  const probabilities = new Float64Array(n * Math.max(k, 1));
  const predicted = new Float64Array(n);
  const index = new Map((holdout.labels ?? []).map((label, c) => [String(label), c]));
  for (let start = 0; start < n; start += BATCH) {
    const end = Math.min(n, start + BATCH);
    const out = await runner.run(feedsOf(signature, holdout.columns, start, end));
    if (holdout.task === 'regression') {
      const value = outputOf(out, signature.outputs, (t) => t.type === 'float32' || t.type === 'float64');
      for (let i = start; i < end; i++) predicted[i] = Number((value.data as Float32Array)[i - start]);
      continue;
    }
    const labelOut = outputOf(out, signature.outputs, (t) => t.type === 'string' || t.type === 'int64', 'label');
    const probOut = Object.entries(out).find(([name, t]) => name !== labelOut.name && t.type === 'float32' && t.dims.length === 2)?.[1];
    const own = (signature.labels ?? []).map(String);
    for (let i = start; i < end; i++) {
      const row = (i - start) * own.length;
      if (probOut && own.length && probOut.dims[1] === own.length) {
        // Map the version's label order onto the data's label order; labels it never learned get 0.
        for (let c = 0; c < own.length; c++) {
          const at = index.get(own[c]!);
          if (at !== undefined) probabilities[i * k + at] = (probOut.data as Float32Array)[row + c]!;
        }
      } else {
        const label = String((labelOut.tensor.data as ArrayLike<unknown>)[i - start]);
        const at = index.get(label);
        if (at !== undefined) probabilities[i * k + at] = 1;
      }
    }
  }
  if (holdout.task === 'regression') return { metrics: regressionMetrics(holdout.values!, predicted), rows: n };
  return { metrics: classificationMetrics(holdout.classes!, probabilities, k), rows: n };
}

function outputOf(
  out: Record<string, PlainTensor>,
  declared: readonly SignatureField[],
  accept: (t: PlainTensor) => boolean,
  preferred?: string,
): PlainTensor & { name: string; tensor: PlainTensor } {
  const names = [...(preferred ? [preferred] : []), ...declared.map((o) => o.name), ...Object.keys(out)];
  for (const name of names) {
    const t = out[name];
    if (t && accept(t)) return { ...t, name, tensor: t };
  }
  throw new Error(`the model produced no ${preferred ?? 'numeric'} output (outputs: ${Object.keys(out).join(', ')})`);
}

function feedsOf(
  signature: { inputs: readonly SignatureField[]; featureNames?: readonly string[] },
  columns: Record<string, ColumnValues>,
  start: number,
  end: number,
): Record<string, PlainTensor> {
  const n = end - start;
  const feeds: Record<string, PlainTensor> = {};
  const { inputs, featureNames } = signature;
  if (inputs.length === 1 && featureNames && inputs[0]!.shape.length === 2 && inputs[0]!.shape[1] === featureNames.length) {
    const input = inputs[0]!;
    const k = featureNames.length;
    const data = input.type === 'double' ? new Float64Array(n * k) : new Float32Array(n * k);
    // Row-major [n, k], as the matrix input expects.
    for (let c = 0; c < k; c++) {
      const column = columns[featureNames[c]!] as Float64Array;
      for (let i = 0; i < n; i++) data[i * k + c] = column[start + i]!;
    }
    feeds[input.name] = { type: input.type === 'double' ? 'float64' : 'float32', dims: [n, k], data };
    return feeds;
  }
  for (const input of inputs) {
    const column = columns[input.name];
    if (!column) throw new Error(`no column for input "${input.name}"`);
    const dims = input.shape.length === 2 ? [n, 1] : [n];
    if (input.type === 'string') {
      const values = column as (string | null)[];
      feeds[input.name] = { type: 'string', dims, data: Array.from({ length: n }, (_, i) => values[start + i] ?? '') };
      continue;
    }
    const values = (column as Float64Array).subarray(start, end);
    switch (input.type) {
      case 'double':
        feeds[input.name] = { type: 'float64', dims, data: Float64Array.from(values) };
        break;
      case 'int64':
        feeds[input.name] = { type: 'int64', dims, data: BigInt64Array.from(values, (v) => BigInt(Number.isFinite(v) ? Math.round(v) : 0)) };
        break;
      case 'int32':
        feeds[input.name] = { type: 'int32', dims, data: Int32Array.from(values, (v) => (Number.isFinite(v) ? Math.round(v) : 0)) };
        break;
      case 'bool':
        feeds[input.name] = { type: 'bool', dims, data: Uint8Array.from(values, (v) => (v ? 1 : 0)) };
        break;
      default:
        feeds[input.name] = { type: 'float32', dims, data: Float32Array.from(values) };
    }
  }
  return feeds;
}
