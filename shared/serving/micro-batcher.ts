import * as ort from 'onnxruntime-node';
import type { SignatureField, VersionDocument } from '../registry/documents';

export interface MicroBatchOptions {
  /** Off: every request runs alone. @default true */
  readonly enabled: boolean;
  /** Most rows in one coalesced run. @default 256 */
  readonly maxRows: number;
  /** Longest a request waits for others, in ms; 0 takes only those already waiting (one event-loop turn). @default 0 */
  readonly maxDelayMs: number;
}

type TensorData = ort.Tensor['data'];

/**
 * One input of one request as its rows give it: an `ort.Tensor` or the plain fields of one. Scoring
 * builds plain feeds, so that a batch makes one tensor per input rather than one per input per request;
 * they become tensors only for the run they take part in.
 */
export interface Feed {
  readonly type: ort.Tensor.Type;
  readonly data: TensorData;
  readonly dims: readonly number[];
}

export type Feeds = Readonly<Record<string, Feed>>;
export type Outputs = ort.InferenceSession.OnnxValueMapType;

interface Job {
  readonly feeds: Feeds;
  readonly rows: number;
  resolve(outputs: Outputs): void;
  reject(err: unknown): void;
}

interface Pending {
  jobs: Job[];
  rows: number;
  timer: { readonly timeout: NodeJS.Timeout } | { readonly immediate: NodeJS.Immediate } | undefined;
}

/**
 * Coalesces concurrent requests for one session into one `session.run`: their feeds are
 * concatenated along the first (batch) dimension and the outputs split back by rows. ONNX Runtime
 * runs a session synchronously on the event loop, so a batch of n rows costs far less than n
 * runs of one row. Only requests the caller marks batchable (every input and output has a free
 * first dimension) join a batch; a failed batch is retried request by request, so one bad
 * request never fails the others.
 */
export class MicroBatcher {
  readonly #options: MicroBatchOptions;
  readonly #pending = new WeakMap<ort.InferenceSession, Pending>();

  constructor(options: MicroBatchOptions) {
    this.#options = options;
  }

  get options(): MicroBatchOptions {
    return this.#options;
  }

  run(session: ort.InferenceSession, feeds: Feeds, rows: number, batchable: boolean): Promise<Outputs> {
    if (!this.#options.enabled || !batchable || rows >= this.#options.maxRows) return session.run(tensorsOf(feeds));
    return new Promise<Outputs>((resolve, reject) => {
      let pending = this.#pending.get(session);
      if (pending && pending.rows + rows > this.#options.maxRows) {
        this.#flush(session, pending);
        pending = undefined;
      }
      if (!pending) {
        pending = { jobs: [], rows: 0, timer: undefined };
        this.#pending.set(session, pending);
        const scheduled = pending;
        const flush = (): void => this.#flush(session, scheduled);
        pending.timer = this.#options.maxDelayMs > 0 ? { timeout: setTimeout(flush, this.#options.maxDelayMs) } : { immediate: setImmediate(flush) };
      }
      pending.jobs.push({ feeds, rows, resolve, reject });
      pending.rows += rows;
      if (pending.rows >= this.#options.maxRows) this.#flush(session, pending);
    });
  }

  #flush(session: ort.InferenceSession, pending: Pending): void {
    if (this.#pending.get(session) === pending) this.#pending.delete(session);
    if (pending.timer !== undefined) {
      if ('timeout' in pending.timer) clearTimeout(pending.timer.timeout);
      else clearImmediate(pending.timer.immediate);
      pending.timer = undefined;
    }
    const { jobs } = pending;
    if (jobs.length === 0) return;
    if (jobs.length === 1) {
      const [job] = jobs as [Job];
      session.run(tensorsOf(job.feeds)).then(job.resolve, job.reject);
      return;
    }
    const merged = concatFeeds(jobs);
    if (!merged) return runEach(session, jobs);
    session.run(merged).then(
      (outputs) => {
        const parts = splitOutputs(outputs, jobs.map((job) => job.rows));
        if (!parts) return runEach(session, jobs);
        jobs.forEach((job, i) => job.resolve(parts[i]!));
      },
      () => runEach(session, jobs),
    );
  }
}

/** True when every input and output of the version has a free first dimension, so rows can be stacked and split. */
export function isBatchable(version: Pick<VersionDocument, 'inputs' | 'outputs'>): boolean {
  const free = (field: SignatureField): boolean => field.shape.length > 0 && field.shape[0]! < 0;
  return version.inputs.length > 0 && version.outputs.length > 0 && version.inputs.every(free) && version.outputs.every(free);
}

function runEach(session: ort.InferenceSession, jobs: readonly Job[]): void {
  for (const job of jobs) session.run(tensorsOf(job.feeds)).then(job.resolve, job.reject);
}

/** The feeds as tensors for `session.run`; tensors pass as they are. */
export function tensorsOf(feeds: Feeds): Record<string, ort.Tensor> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const name in feeds) {
    const feed = feeds[name]!;
    tensors[name] = feed instanceof ort.Tensor ? feed : new ort.Tensor(feed.type, feed.data as ort.Tensor.DataType, feed.dims);
  }
  return tensors;
}

/** Concatenates the jobs' feeds along dimension 0; undefined when their inputs disagree in names, types or trailing dimensions. */
function concatFeeds(jobs: readonly Job[]): Record<string, ort.Tensor> | undefined {
  const first = jobs[0]!.feeds;
  const names = Object.keys(first);
  for (const job of jobs) {
    let count = 0;
    for (const _ in job.feeds) count++;
    if (count !== names.length) return undefined;
  }
  const merged: Record<string, ort.Tensor> = {};
  const parts = new Array<TensorData>(jobs.length);
  for (const name of names) {
    const head = first[name]!;
    let rows = 0;
    let length = 0;
    for (let j = 0; j < jobs.length; j++) {
      const feed = jobs[j]!.feeds[name];
      if (!feed || feed.type !== head.type || !sameTrailingDims(feed.dims, head.dims)) return undefined;
      parts[j] = feed.data;
      rows += feed.dims[0]!;
      length += feed.data.length;
    }
    merged[name] = new ort.Tensor(head.type, concatData(parts, length) as ort.Tensor.DataType, [rows, ...head.dims.slice(1)]);
  }
  return merged;
}

function sameTrailingDims(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concatData(parts: readonly TensorData[], length: number): TensorData {
  const first = parts[0]!;
  if (Array.isArray(first)) return (parts as string[][]).flat();
  const Typed = (first as Float32Array).constructor as new (n: number) => Float32Array;
  const out = new Typed(length);
  let offset = 0;
  for (const part of parts as Float32Array[]) {
    // Most requests carry one row: a store is cheaper than set()'s call.
    if (part.length === 1) out[offset] = part[0]!;
    else out.set(part, offset);
    offset += part.length;
  }
  return out as TensorData;
}

/** Splits each output along dimension 0 by `rows`; undefined when an output is not batched that way. */
function splitOutputs(outputs: Outputs, rows: readonly number[]): Outputs[] | undefined {
  let total = 0;
  for (const n of rows) total += n;
  const parts: Record<string, ort.Tensor>[] = rows.map(() => ({}));
  for (const [name, value] of Object.entries(outputs)) {
    const tensor = value as ort.Tensor;
    if (!(tensor instanceof ort.Tensor) || tensor.dims[0] !== total) return undefined;
    const stride = total === 0 ? 0 : tensor.data.length / total;
    const trailing = tensor.dims.slice(1);
    let offset = 0;
    rows.forEach((n, i) => {
      const data = Array.isArray(tensor.data)
        ? tensor.data.slice(offset * stride, (offset + n) * stride)
        : (tensor.data as Float32Array).subarray(offset * stride, (offset + n) * stride);
      parts[i]![name] = new ort.Tensor(tensor.type, data as TensorData, [n, ...trailing]);
      offset += n;
    });
  }
  return parts;
}
