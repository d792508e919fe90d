import { randomBytes } from 'node:crypto';
import type * as ort from 'onnxruntime-node';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ensureError } from '../platform/errors';
import type { Logger } from '../platform/logger';

/**
 * One sampled row as written to `inference-logs/`, one JSON object per line. Values are the
 * model's input and output tensors for that row: a scalar where the row holds one element
 * (a feature), else an array; NaN (a missing number) is written as null.
 */
export interface InferenceLogLine {
  /** ISO-8601 time the row was scored. */
  readonly time: string;
  readonly model: string;
  readonly version: number;
  readonly inputs: Record<string, LoggedValue>;
  readonly outputs: Record<string, LoggedValue>;
}

export type LoggedValue = number | string | boolean | null | (number | string | boolean | null)[];

export interface InferenceLogOptions {
  readonly blobs: BlobStore;
  readonly log: Logger;
  /** Fraction of rows kept, 0 to 1. @default 0.1 */
  readonly sampleRate: number;
  /** How often buffered rows are written, in ms. @default 10_000 */
  readonly flushIntervalMs: number;
  /** Rows kept in memory at most; rows sampled beyond it are dropped (and counted). @default 50_000 */
  readonly maxBufferedRows?: number;
  /** For tests. @default Math.random */
  readonly random?: () => number;
}

/**
 * `inference-logs/{model}/{yyyy}/{mm}/{dd}/{hh}/{time}-{id}.jsonl`: partitioned by model and UTC
 * hour, so drift monitoring reads a model's window by listing a prefix.
 */
export function inferenceLogPath(model: string, at: Date, id: string): string {
  const iso = at.toISOString();
  const [date, time] = iso.split('T') as [string, string];
  const [y, m, d] = date.split('-');
  return `${model}/${y}/${m}/${d}/${time.slice(0, 2)}/${iso.replace(/[:.]/g, '')}-${id}.jsonl`;
}

/** Prefix of one model's logs for one UTC hour (`{model}/{yyyy}/{mm}/{dd}/{hh}/`). */
export function inferenceLogHourPrefix(model: string, at: Date): string {
  return inferenceLogPath(model, at, '').replace(/[^/]*$/, '');
}

/**
 * Samples scored rows and appends them to `inference-logs/` in batches, off the request path:
 * `record` only copies the sampled rows' values into memory; a timer writes one blob per model
 * and hour. A failed write is logged and its rows dropped — the log never slows or fails a request.
 */
export class InferenceLog {
  readonly #options: InferenceLogOptions;
  #buffer: InferenceLogLine[] = [];
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: InferenceLogOptions) {
    this.#options = options;
  }

  /** Samples rows of one scored request. Never throws. */
  record(model: string, version: number, inputs: Readonly<Record<string, Columns>>, outputs: Readonly<Record<string, Columns>>, rows: number): void {
    const rate = this.#options.sampleRate;
    if (rate <= 0 || rows <= 0) return;
    try {
      const random = this.#options.random ?? Math.random;
      const max = this.#options.maxBufferedRows ?? 50_000;
      // Made once a row is sampled: at the default rate most requests sample none.
      let time: string | undefined;
      for (let row = 0; row < rows; row++) {
        if (rate < 1 && random() >= rate) continue;
        time ??= new Date().toISOString();
        if (this.#buffer.length >= max) {
          this.#dropped++;
          continue;
        }
        this.#buffer.push({ time, model, version, inputs: rowOf(inputs, row, rows), outputs: rowOf(outputs, row, rows) });
      }
      this.#schedule();
    } catch (err) {
      this.#options.log.warn(`Inference log: a row of ${model} version ${version} could not be sampled: ${ensureError(err).message}`);
    }
  }

  /** Writes what is buffered now (also called by the timer, and at shutdown). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const lines = this.#buffer;
    this.#buffer = [];
    const dropped = this.#dropped;
    this.#dropped = 0;
    if (dropped > 0) this.#options.log.warn(`Inference log: ${dropped} sampled rows were dropped because the buffer was full.`);
    if (lines.length === 0) return this.#writing;
    this.#writing = this.#writing.then(() => this.#write(lines));
    return this.#writing;
  }

  #schedule(): void {
    if (this.#timer || this.#buffer.length === 0) return;
    this.#timer = setTimeout(() => void this.flush(), this.#options.flushIntervalMs);
    // A pending flush must not keep a finished process alive.
    this.#timer.unref();
  }

  async #write(lines: readonly InferenceLogLine[]): Promise<void> {
    const groups = new Map<string, { model: string; at: Date; lines: string[] }>();
    for (const line of lines) {
      const at = new Date(line.time);
      const key = `${line.model}/${inferenceLogHourPrefix(line.model, at)}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { model: line.model, at, lines: [] }));
      group.lines.push(JSON.stringify(line));
    }
    for (const group of groups.values()) {
      const name = inferenceLogPath(group.model, group.at, randomBytes(4).toString('hex'));
      try {
        await this.#options.blobs.write(CONTAINERS.inferenceLogs, name, group.lines.join('\n') + '\n', { contentType: 'application/x-ndjson' });
      } catch (err) {
        this.#options.log.warn(`Inference log: ${group.lines.length} rows for inference-logs/${name} were not written: ${ensureError(err).message}`);
      }
    }
  }
}

/** What the log reads of a tensor, or of scoring's plain feeds: its values and shape. */
type Columns = Pick<ort.Tensor, 'data' | 'dims'>;

function rowOf(tensors: Readonly<Record<string, Columns>>, row: number, rows: number): Record<string, LoggedValue> {
  const out: Record<string, LoggedValue> = {};
  for (const [name, tensor] of Object.entries(tensors)) {
    const data = tensor.data as ArrayLike<unknown>;
    if (tensor.dims[0] !== rows || data.length % rows !== 0) continue;
    const stride = data.length / rows;
    if (stride === 1) out[name] = plain(data[row]);
    else {
      const values: (number | string | boolean | null)[] = new Array(stride);
      for (let k = 0; k < stride; k++) values[k] = plain(data[row * stride + k]);
      out[name] = values;
    }
  }
  return out;
}

function plain(value: unknown): number | string | boolean | null {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  return null;
}
