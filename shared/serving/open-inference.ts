import * as ort from 'onnxruntime-node';
import type { InferenceLog } from '../monitoring/inference-log';
import { ModelloopError, describeProblems, type Problem } from '../platform/errors';
import type { SignatureField, VersionDocument } from '../registry/documents';
import type { Registry } from '../registry/registry';
import { isBatchable, type MicroBatcher } from './micro-batcher';
import type { ModelCache, VersionSelector } from './model-cache';
import { isObject, kindOf } from './predict';

/**
 * The Open Inference Protocol (KServe / Triton "V2") over the registry's versions, as KServe's
 * `docs/predict-api/v2/required_api.md` documents it. Everything is derived from the version
 * document's `inputs`/`outputs` signature, so it serves trained pipelines and imported ONNX alike.
 */

export type V2Datatype = 'BOOL' | 'INT32' | 'INT64' | 'FP32' | 'FP64' | 'BYTES';

/** `$metadata_tensor` */
export interface V2TensorMetadata {
  readonly name: string;
  readonly datatype: V2Datatype;
  /** -1 for a free dimension. */
  readonly shape: number[];
}

export type V2Parameters = Record<string, string | number | boolean>;

/** `$response_output` */
export interface V2Output {
  readonly name: string;
  readonly datatype: V2Datatype;
  readonly shape: number[];
  readonly parameters?: V2Parameters;
  readonly data: (number | string | boolean)[];
}

/** `$inference_response` */
export interface V2InferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly parameters?: V2Parameters;
  readonly outputs: V2Output[];
}

/** `$metadata_model_response` */
export interface V2ModelMetadata {
  readonly name: string;
  readonly versions: string[];
  readonly platform: 'onnx_onnxv1';
  readonly inputs: V2TensorMetadata[];
  readonly outputs: V2TensorMetadata[];
}

export interface OpenInferenceDeps {
  readonly models: ModelCache;
  readonly registry: Registry;
  /** Most rows (first dimension) one request may carry (MAX_REQUEST_ROWS). */
  readonly maxRows: number;
  readonly batcher?: MicroBatcher;
  readonly inferenceLog?: InferenceLog;
}

const DATATYPE: Readonly<Record<SignatureField['type'], V2Datatype>> = {
  float: 'FP32',
  double: 'FP64',
  int32: 'INT32',
  int64: 'INT64',
  bool: 'BOOL',
  string: 'BYTES',
};

const ORT_DATATYPE: Readonly<Record<string, V2Datatype>> = {
  float32: 'FP32',
  float64: 'FP64',
  int32: 'INT32',
  int64: 'INT64',
  bool: 'BOOL',
  string: 'BYTES',
};

/** `$metadata_server_response` */
export function serverMetadata(): { name: string; version: string; extensions: string[] } {
  return { name: 'modelloop', version: SERVER_VERSION, extensions: [] };
}

const SERVER_VERSION = '0.1.0';

/** The version a V2 route names in its `{version}` path segment; none means `production`. */
export function versionSelector(version: string | undefined): VersionSelector {
  if (version === undefined || version === '') return {};
  const n = Number(version);
  if (!/^\d+$/.test(version) || !Number.isSafeInteger(n) || n < 1) {
    throw new ModelloopError('InvalidInput', `Version "${version}" is not valid: versions are whole numbers from 1.`);
  }
  return { version: n };
}

export async function modelMetadata(deps: OpenInferenceDeps, model: string, selector: VersionSelector): Promise<V2ModelMetadata> {
  const doc = await deps.models.describe(model, selector);
  const versions = selector.version !== undefined ? [doc.version] : (await deps.registry.listVersions(model)).map((v) => v.version).sort((a, b) => a - b);
  return {
    name: model,
    versions: versions.map(String),
    platform: 'onnx_onnxv1',
    inputs: doc.inputs.map(tensorMetadata),
    outputs: doc.outputs.map(tensorMetadata),
  };
}

/** Loads the version's session (warm-up included): ready means the next request is served at once. */
export async function modelReady(deps: OpenInferenceDeps, model: string, selector: VersionSelector): Promise<void> {
  const lease = await deps.models.acquire(model, selector);
  lease.release();
}

function tensorMetadata(field: SignatureField): V2TensorMetadata {
  return { name: field.name, datatype: DATATYPE[field.type], shape: [...field.shape] };
}

interface ParsedInput {
  readonly index: number;
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
  readonly data: unknown[];
}

/** `POST v2/models/{model}[/versions/{version}]/infer` */
export async function infer(deps: OpenInferenceDeps, model: string, selector: VersionSelector, body: unknown): Promise<V2InferResponse> {
  const request = parseRequest(body);
  const rows = Math.max(...request.inputs.map((input) => input.shape[0] ?? 1));
  if (rows > deps.maxRows) {
    throw new ModelloopError('PayloadTooLarge', `The request has ${rows} rows (the first dimension of its inputs); at most ${deps.maxRows} are scored per request (MAX_REQUEST_ROWS).`);
  }
  const doc = await deps.models.describe(model, selector);
  const feeds = feedsOf(doc, request.inputs);
  const wanted = request.outputs?.map((output, i) => {
    if (doc.outputs.length > 0 && !doc.outputs.some((o) => o.name === output.name)) {
      throw new ModelloopError('InvalidInput', `outputs[${i}]: version ${doc.version} of "${model}" has no output "${output.name}"; its outputs are ${doc.outputs.map((o) => o.name).join(', ')}.`, [
        { path: ['outputs', i, 'name'], message: `unknown output "${output.name}"`, expected: `one of ${doc.outputs.map((o) => o.name).join(', ')}`, received: output.name },
      ]);
    }
    return output;
  });
  const batchable = isBatchable(doc) && Object.values(feeds).every((t) => t.dims[0] === rows);

  const lease = await deps.models.acquire(model, { version: doc.version });
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    results = deps.batcher ? await deps.batcher.run(lease.session, feeds, rows, batchable) : await lease.session.run(feeds);
  } catch (err) {
    throw new ModelloopError('InvalidInput', `ONNX Runtime refused the inputs for version ${doc.version} of "${model}": ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    lease.release();
  }

  const names = wanted ? wanted.map((o) => o.name) : Object.keys(results);
  const outputs = names.map((name, i): V2Output => {
    const tensor = results[name];
    if (!(tensor instanceof ort.Tensor)) throw new ModelloopError('InvalidInput', `Output "${name}" of version ${doc.version} of "${model}" is not a tensor; the V2 protocol carries only tensors.`);
    const parameters = wanted?.[i]?.parameters;
    return { name, datatype: ORT_DATATYPE[tensor.type] ?? 'BYTES', shape: [...tensor.dims], ...(parameters ? { parameters } : {}), data: jsonData(tensor) };
  });
  if (batchable && deps.inferenceLog) deps.inferenceLog.record(model, doc.version, feeds, results as Record<string, ort.Tensor>, rows);
  return {
    model_name: model,
    model_version: String(doc.version),
    ...(request.id !== undefined ? { id: request.id } : {}),
    ...(request.parameters ? { parameters: request.parameters } : {}),
    outputs,
  };
}

function parseRequest(body: unknown): { id?: string; parameters?: V2Parameters; inputs: ParsedInput[]; outputs?: { name: string; parameters?: V2Parameters }[] } {
  const bad = (path: (string | number)[], message: string): never => {
    throw new ModelloopError('InvalidInput', `${path.length ? path.join('.') + ': ' : ''}${message}`, [{ path, message }]);
  };
  if (!isObject(body)) return bad([], 'the body must be an inference request: {"inputs": [{"name", "shape", "datatype", "data"}]}.');
  if (body.id !== undefined && typeof body.id !== 'string') bad(['id'], 'must be a string');
  const parameters = body.parameters === undefined ? undefined : parametersOf(body.parameters, ['parameters'], bad);
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) return bad(['inputs'], 'must be a non-empty array of input tensors');
  const seen = new Set<string>();
  const inputs = (body.inputs as unknown[]).map((input, index): ParsedInput => {
    const at = ['inputs', index];
    if (!isObject(input)) return bad(at, 'must be an object {"name", "shape", "datatype", "data"}');
    if (typeof input.name !== 'string' || input.name === '') bad([...at, 'name'], 'must be the name of a model input');
    const name = input.name as string;
    if (seen.has(name)) bad([...at, 'name'], `input "${name}" is given twice`);
    seen.add(name);
    if (typeof input.datatype !== 'string') bad([...at, 'datatype'], 'must be a datatype such as "FP32", "INT64", "BOOL" or "BYTES"');
    if (!Array.isArray(input.shape) || !input.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      bad([...at, 'shape'], 'must be an array of non-negative integers');
    }
    if (input.parameters !== undefined) parametersOf(input.parameters, [...at, 'parameters'], bad);
    if (!Array.isArray(input.data)) return bad([...at, 'data'], 'must be an array (nested or flat, row-major)');
    const shape = input.shape as number[];
    const data = flatten(input.data);
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) bad([...at, 'data'], `holds ${data.length} elements but shape [${shape.join(', ')}] needs ${size}`);
    return { index, name, datatype: input.datatype as string, shape, data };
  });
  let outputs: { name: string; parameters?: V2Parameters }[] | undefined;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) return bad(['outputs'], 'must be an array of {"name"}');
    outputs = (body.outputs as unknown[]).map((output, i) => {
      if (!isObject(output) || typeof output.name !== 'string') return bad(['outputs', i], 'must be {"name": "<output name>"}');
      const p = output.parameters === undefined ? undefined : parametersOf(output.parameters, ['outputs', i, 'parameters'], bad);
      return p ? { name: output.name, parameters: p } : { name: output.name };
    });
  }
  return { ...(body.id !== undefined ? { id: body.id as string } : {}), ...(parameters ? { parameters } : {}), inputs, ...(outputs ? { outputs } : {}) };
}

function parametersOf(value: unknown, path: (string | number)[], bad: (path: (string | number)[], message: string) => never): V2Parameters {
  if (!isObject(value)) return bad(path, 'must be an object of parameters');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') bad([...path, key], 'must be a string, number or boolean');
  }
  return value as V2Parameters;
}

/** Nested or flat `data`, row-major; an explicit stack instead of recursion keeps deep nesting cheap. */
function flatten(data: unknown[]): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const stack: unknown[][] = [data];
  const positions: number[] = [0];
  while (stack.length > 0) {
    const top = stack.length - 1;
    const array = stack[top]!;
    const i = positions[top]!;
    if (i >= array.length) {
      stack.pop();
      positions.pop();
      continue;
    }
    positions[top] = i + 1;
    const value = array[i];
    if (Array.isArray(value)) {
      stack.push(value);
      positions.push(0);
    } else out.push(value);
  }
  return out;
}

function feedsOf(doc: VersionDocument, inputs: readonly ParsedInput[]): Record<string, ort.Tensor> {
  const problems: Problem[] = [];
  const byName = new Map(doc.inputs.map((field) => [field.name, field]));
  const given = new Set(inputs.map((input) => input.name));
  const expectedNames = doc.inputs.map((f) => f.name).join(', ');
  for (const input of inputs) {
    if (!byName.has(input.name)) {
      problems.push({ path: ['inputs', input.index, 'name'], message: `unknown input "${input.name}"`, expected: `one of ${expectedNames}`, received: input.name });
    }
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) {
    const field = byName.get(input.name);
    if (!field) continue;
    const tensor = tensorOf(field, input, problems);
    if (tensor) feeds[input.name] = tensor;
  }
  for (const field of doc.inputs) {
    if (!given.has(field.name)) problems.push({ path: ['inputs'], message: `input "${field.name}" is missing`, expected: `${DATATYPE[field.type]} [${field.shape.join(', ')}]`, received: 'nothing' });
  }
  if (problems.length === 0 && isBatchable(doc)) {
    const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
    if (rows.size > 1) problems.push({ path: ['inputs'], message: `the inputs disagree in their first (batch) dimension: ${inputs.map((i) => `${i.name} has ${i.shape[0]}`).join(', ')}` });
  }
  if (problems.length > 0) {
    throw new ModelloopError('SchemaViolation', `The inputs do not match version ${doc.version} of "${doc.model}": ${describeProblems(problems)}`, problems.slice(0, 100));
  }
  return feeds;
}

function tensorOf(field: SignatureField, input: ParsedInput, problems: Problem[]): ort.Tensor | undefined {
  const at = ['inputs', input.index];
  const expected = DATATYPE[field.type];
  if (input.datatype !== expected) {
    problems.push({ path: [...at, 'datatype'], message: `input "${input.name}" must be ${expected}`, expected, received: input.datatype });
    return undefined;
  }
  let shape = input.shape;
  const signature = field.shape;
  // A column given as [N] for a [-1, 1] input is the same data; accept it.
  if (signature.length === 2 && signature[1] === 1 && shape.length === 1) shape = [shape[0]!, 1];
  if (signature.length > 0) {
    const fits = shape.length === signature.length && signature.every((d, k) => d < 0 || d === shape[k]);
    if (!fits) {
      problems.push({ path: [...at, 'shape'], message: `input "${input.name}" has shape [${input.shape.join(', ')}]`, expected: `[${signature.join(', ')}] (-1: any size)`, received: `[${input.shape.join(', ')}]` });
      return undefined;
    }
  }
  const before = problems.length;
  const wrong = (j: number, value: unknown, what: string): void => {
    if (problems.length - before < 20) problems.push({ path: [...at, 'data', j], message: `input "${input.name}" element ${j} must be ${what}`, expected: what, received: kindOf(value) });
    else if (problems.length - before === 20) problems.push({ path: [...at, 'data'], message: `input "${input.name}" has more elements of the wrong type` });
  };
  const { data } = input;
  const n = data.length;
  let tensor: ort.Tensor;
  switch (field.type) {
    case 'float':
    case 'double': {
      const out = field.type === 'float' ? new Float32Array(n) : new Float64Array(n);
      for (let j = 0; j < n; j++) {
        const v = data[j];
        if (typeof v === 'number') out[j] = v;
        else if (v === null) out[j] = NaN;
        else wrong(j, v, 'a number (null for missing)');
      }
      tensor = new ort.Tensor(field.type === 'float' ? 'float32' : 'float64', out, shape);
      break;
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let j = 0; j < n; j++) {
        const v = data[j];
        if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) out[j] = v;
        else wrong(j, v, 'a 32-bit integer');
      }
      tensor = new ort.Tensor('int32', out, shape);
      break;
    }
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let j = 0; j < n; j++) {
        const v = data[j];
        if (typeof v === 'number' && Number.isSafeInteger(v)) out[j] = BigInt(v);
        else wrong(j, v, 'an integer');
      }
      tensor = new ort.Tensor('int64', out, shape);
      break;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let j = 0; j < n; j++) {
        const v = data[j];
        if (typeof v === 'boolean') out[j] = v ? 1 : 0;
        else wrong(j, v, 'true or false');
      }
      tensor = new ort.Tensor('bool', out, shape);
      break;
    }
    case 'string': {
      const out = new Array<string>(n);
      for (let j = 0; j < n; j++) {
        const v = data[j];
        if (typeof v === 'string') out[j] = v;
        else wrong(j, v, 'a string');
      }
      tensor = new ort.Tensor('string', out, shape);
      break;
    }
  }
  return problems.length === before ? tensor : undefined;
}

function jsonData(tensor: ort.Tensor): (number | string | boolean)[] {
  const data = tensor.data;
  if (Array.isArray(data)) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  if (tensor.type === 'bool') return Array.from(data as Uint8Array, (v) => v !== 0);
  // NaN (a missing value) is written as null by JSON.stringify.
  return Array.from(data as Float32Array, Number);
}

