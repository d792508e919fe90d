import * as ort from 'onnxruntime-node';
import { ModelloopError, describeProblems, type Problem } from '../platform/errors';
import type { SignatureField, VersionDocument } from '../registry/documents';
import type { InferenceLog } from '../monitoring/inference-log';
import { isBatchable, tensorsOf, type Feed, type MicroBatcher } from './micro-batcher';
import type { ModelCache, VersionSelector } from './model-cache';

export interface PredictRequest {
  readonly model: string;
  readonly selector: VersionSelector;
  readonly body: unknown;
}

export interface PredictReply {
  readonly model: string;
  readonly version: number;
  readonly predictions: (string | number)[];
  /** Classifiers only: one object per row, label → probability. */
  readonly probabilities?: Record<string, number>[];
}

export interface PredictDeps {
  readonly models: ModelCache;
  /** Most rows one request may carry (MAX_REQUEST_ROWS), checked before any model work. */
  readonly maxRows: number;
  /** Coalesces concurrent requests into one run; without it each request runs alone. */
  readonly batcher?: MicroBatcher;
  /** Samples scored rows for drift monitoring. */
  readonly inferenceLog?: InferenceLog;
}

type Row = Record<string, unknown>;

/** Scores rows given in any of the contract's body formats against the requested version. */
export async function predict(deps: PredictDeps, request: PredictRequest): Promise<PredictReply> {
  const { rows, field } = rowsOf(request.body);
  if (rows.length === 0) throw new ModelloopError('InvalidInput', `"${field}" has no rows to score.`);
  if (rows.length > deps.maxRows) {
    throw new ModelloopError('PayloadTooLarge', `The request has ${rows.length} rows; at most ${deps.maxRows} are scored per request (MAX_REQUEST_ROWS).`);
  }
  const lease = await deps.models.acquire(request.model, request.selector);
  try {
    if (lease.version.servesPredict === false) {
      const { model, version } = lease.version;
      throw new ModelloopError(
        'InvalidInput',
        `Version ${version} of "${model}" was imported with inputs that are not named columns (${lease.version.inputs.map((i) => `${i.name} ${i.type}[${i.shape.join(',')}]`).join(', ')}); ` +
          `score it through the Open Inference Protocol: POST /v2/models/${model}/versions/${version}/infer.`,
      );
    }
    const feeds = feedsOf(lease.version, rows, field);
    const outputs = deps.batcher
      ? await deps.batcher.run(lease.session, feeds, rows.length, isBatchable(lease.version))
      : await lease.session.run(tensorsOf(feeds));
    const reply = replyOf(lease.version, outputs, rows.length);
    deps.inferenceLog?.record(lease.version.model, lease.version.version, feeds, outputs as Record<string, ort.Tensor>, rows.length);
    return reply;
  } finally {
    lease.release();
  }
}

/** Normalises the five body formats to rows of named values. */
export function rowsOf(body: unknown): { rows: Row[]; field: string } {
  if (!isObject(body)) throw new ModelloopError('InvalidInput', 'The body must be a JSON object such as {"instances": [{"feature": 1.0}]}.');
  if ('instances' in body) return { rows: recordsOf(body.instances, 'instances'), field: 'instances' };
  if ('dataframe_records' in body) return { rows: recordsOf(body.dataframe_records, 'dataframe_records'), field: 'dataframe_records' };
  if ('dataframe_split' in body) return { rows: splitOf(body.dataframe_split, 'dataframe_split'), field: 'dataframe_split' };
  if ('input_data' in body) return { rows: splitOf(body.input_data, 'input_data'), field: 'input_data' };
  if ('inputs' in body) return { rows: columnsOf(body.inputs, 'inputs'), field: 'inputs' };
  throw new ModelloopError(
    'InvalidInput',
    'The body names no rows: use one of "instances", "dataframe_records", "dataframe_split", "inputs" or "input_data".',
    [{ path: [], message: 'expected one of instances, dataframe_records, dataframe_split, inputs, input_data', received: Object.keys(body).join(', ') || 'an empty object' }],
  );
}

function recordsOf(value: unknown, field: string): Row[] {
  if (!Array.isArray(value)) throw new ModelloopError('InvalidInput', `"${field}" must be an array of objects, one per row.`);
  value.forEach((row, i) => {
    if (!isObject(row)) {
      throw new ModelloopError('InvalidInput', `${field}[${i}] must be an object of feature values, e.g. {"sepal_length": 5.1}; got ${kindOf(row)}.`, [
        { path: [field, i], message: 'expected an object', received: kindOf(row) },
      ]);
    }
  });
  return value as Row[];
}

function splitOf(value: unknown, field: string): Row[] {
  if (!isObject(value) || !Array.isArray(value.columns) || !Array.isArray(value.data)) {
    throw new ModelloopError('InvalidInput', `"${field}" must be {"columns": [...], "data": [[...], ...]}.`);
  }
  const columns = value.columns as unknown[];
  if (!columns.every((c) => typeof c === 'string')) throw new ModelloopError('InvalidInput', `${field}.columns must be strings.`);
  return (value.data as unknown[]).map((row, i) => {
    if (!Array.isArray(row) || row.length !== columns.length) {
      throw new ModelloopError('InvalidInput', `${field}.data[${i}] must be an array of ${columns.length} values, one per column.`, [
        { path: [field, 'data', i], message: `expected ${columns.length} values`, received: Array.isArray(row) ? `${row.length} values` : kindOf(row) },
      ]);
    }
    return Object.fromEntries(columns.map((c, k) => [c as string, row[k]]));
  });
}

function columnsOf(value: unknown, field: string): Row[] {
  if (!isObject(value)) throw new ModelloopError('InvalidInput', `"${field}" must be an object of columns: {"feature": [v1, v2, ...]}.`);
  const entries = Object.entries(value);
  const lengths = new Set(entries.map(([, v]) => (Array.isArray(v) ? v.length : -1)));
  if (lengths.has(-1) || lengths.size > 1) {
    throw new ModelloopError('InvalidInput', `Every column of "${field}" must be an array, and all of the same length.`);
  }
  const rows = entries.length ? (entries[0]![1] as unknown[]).length : 0;
  return Array.from({ length: rows }, (_, i) => Object.fromEntries(entries.map(([name, values]) => [name, (values as unknown[])[i]])));
}

function feedsOf(version: VersionDocument, rows: Row[], field: string): Record<string, Feed> {
  const problems: Problem[] = [];
  const known = knownNamesOf(version);
  const feeds: Record<string, Feed> = {};
  for (let i = 0; i < rows.length; i++) {
    for (const name in rows[i]) {
      if (!known.has(name)) problems.push({ path: [field, i, name], message: `unknown feature "${name}"`, expected: `one of ${version.inputs.map((f) => f.name).join(', ')}` });
    }
  }
  for (const input of version.inputs) feeds[input.name] = tensorOf(input, rows, field, problems);
  if (problems.length > 0) {
    throw new ModelloopError('SchemaViolation', `The rows do not match version ${version.version} of "${version.model}": ${describeProblems(problems)}`, problems.slice(0, 100));
  }
  return feeds;
}

// A loaded version's document is one object for the session's lifetime: its name set is built once.
const knownNames = new WeakMap<VersionDocument, ReadonlySet<string>>();

function knownNamesOf(version: VersionDocument): ReadonlySet<string> {
  let names = knownNames.get(version);
  if (!names) knownNames.set(version, (names = new Set([...version.inputs.map((i) => i.name), ...(version.ignoredInputs ?? [])])));
  return names;
}

// The shapes of one row's feed: most requests carry one row, and a feed's dims are only read.
const ONE_ROW: readonly number[] = Object.freeze([1]);
const ONE_ROW_COLUMN: readonly number[] = Object.freeze([1, 1]);

function dimsOf(input: SignatureField, n: number): readonly number[] {
  if (input.shape.length === 2) return n === 1 ? ONE_ROW_COLUMN : [n, 1];
  return n === 1 ? ONE_ROW : [n];
}

function tensorOf(input: SignatureField, rows: Row[], field: string, problems: Problem[]): Feed {
  const n = rows.length;
  const missing = (i: number, value: unknown): void => {
    problems.push({
      path: [field, i, input.name],
      message: value === undefined ? `feature "${input.name}" is missing` : `feature "${input.name}" is null but not nullable`,
      expected: describeField(input),
      received: value === undefined ? 'nothing' : 'null',
    });
  };
  if (input.type === 'string') {
    const data = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const value = rows[i]![input.name];
      if (value === undefined || (value === null && !input.nullable)) missing(i, value);
      else if (value === null) data[i] = '';
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') data[i] = String(value);
      else problems.push({ path: [field, i, input.name], message: `feature "${input.name}" must be a category name`, expected: 'string', received: kindOf(value) });
    }
    return { type: 'string', data, dims: dimsOf(input, n) };
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const value = rows[i]![input.name];
    if (value === undefined || (value === null && !input.nullable)) missing(i, value);
    else if (value === null) data[i] = NaN;
    else if (typeof value === 'number' && Number.isFinite(value)) data[i] = value;
    else if (typeof value === 'boolean' && input.featureType === 'boolean') data[i] = value ? 1 : 0;
    else {
      problems.push({ path: [field, i, input.name], message: `feature "${input.name}" must be ${describeField(input)}`, expected: describeField(input), received: kindOf(value) });
    }
  }
  return { type: 'float32', data, dims: dimsOf(input, n) };
}

function replyOf(version: VersionDocument, outputs: ort.InferenceSession.OnnxValueMapType, rows: number): PredictReply {
  if (version.task === 'regression') {
    const value = outputs.variable ?? Object.values(outputs)[0];
    if (!value) throw new Error(`Version ${version.version} of "${version.model}" produced no output.`);
    const data = value.data as Float32Array;
    return { model: version.model, version: version.version, predictions: Array.from(data.subarray(0, rows), Number) };
  }
  const labels = outputs.label;
  const probabilities = outputs.probabilities;
  if (!labels || !probabilities) throw new Error(`Version ${version.version} of "${version.model}" lacks its label or probabilities output.`);
  const names = (version.labels ?? []).map(String);
  const k = names.length;
  const p = probabilities.data as Float32Array;
  const predictions = Array.from(labels.data as ArrayLike<string | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : v));
  return {
    model: version.model,
    version: version.version,
    predictions,
    probabilities: Array.from({ length: rows }, (_, i) => Object.fromEntries(names.map((name, c) => [name, roundProbability(p[i * k + c]!)]))),
  };
}

/** float32 probabilities carry about 7 digits; more would only be noise in the reply. */
function roundProbability(p: number): number {
  return Math.round(p * 1e7) / 1e7;
}

function describeField(input: SignatureField): string {
  const type = input.featureType ?? (input.type === 'string' ? 'category' : 'number');
  const kind = type === 'category' || type === 'string' ? 'a string' : type === 'boolean' ? 'a boolean' : type === 'integer' ? 'an integer' : 'a number';
  return input.nullable ? `${kind} or null` : kind;
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Names a JSON value's kind for an error message: `a string "abc"`, `a number (3)`, `null`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + '...' : value)}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value} (${String(value)})`;
}
