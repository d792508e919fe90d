import { Worker } from 'node:worker_threads';

/** Histogram slots per feature: 255 value bins and the missing-value bin. */
export const SLOTS = 256;
/** Below this many rows a range is summed in one pass; above, as two halves (one per thread). */
const HALVES_FROM_ROWS = 16_384;
/** A helper that has not answered for this long is taken as dead. */
const HELPER_TIMEOUT_MS = 120_000;

/**
 * Sums gradient, hessian and count per (feature, bin) over rows order[start..end). Row by row
 * over the row-major bins: each row's bytes are contiguous and the histogram (features × 256 × 3
 * doubles) stays in cache. Self-contained, literals only (compiled references to module constants
 * would not exist there): the helper thread runs its source text.
 */
export function buildHistogram(
  bins: Uint8Array,
  features: number,
  g: Float64Array,
  h: Float64Array,
  order: Int32Array,
  start: number,
  end: number,
  allowed: Int32Array,
  out: Float64Array,
): void {
  const all = allowed.length === features;
  const width = 768; // 256 slots × (gradient, hessian, count)
  for (let i = start; i < end; i++) {
    const row = order[i]!;
    const gi = g[row]!;
    const hi = h[row]!;
    const base = row * features;
    if (all) {
      for (let f = 0, slot = 0; f < features; f++, slot += width) {
        const j = slot + bins[base + f]! * 3;
        out[j] = out[j]! + gi;
        out[j + 1] = out[j + 1]! + hi;
        out[j + 2] = out[j + 2]! + 1;
      }
    } else {
      for (let a = 0; a < allowed.length; a++) {
        const f = allowed[a]!;
        const j = f * width + bins[base + f]! * 3;
        out[j] = out[j]! + gi;
        out[j + 1] = out[j + 1]! + hi;
        out[j + 2] = out[j + 2]! + 1;
      }
    }
  }
}

/** Control words shared with the helper. */
const TASK = 0;
const START = 1;
const END = 2;
const ALLOWED = 3;
const DONE = 4;
const STOP = 5;

/**
 * Builds histograms over shared training buffers, summing a large range as two fixed halves: the
 * first here, the second on a helper thread when there is one. The halves and their order are the
 * same with or without the helper, so the model's bytes do not depend on the core count.
 */
export class Histograms {
  readonly #bins: Uint8Array;
  readonly #features: number;
  readonly #g: Float64Array;
  readonly #h: Float64Array;
  readonly #order: Int32Array;
  readonly #second: Float64Array;
  readonly #allowed: Int32Array;
  readonly #control: Int32Array;
  #helper: Worker | undefined;
  #task = 0;

  /** `bins`, `g`, `h` and `order` must live on SharedArrayBuffers for a helper thread to read them. */
  constructor(bins: Uint8Array, features: number, g: Float64Array, h: Float64Array, order: Int32Array, threads: number) {
    this.#bins = bins;
    this.#features = features;
    this.#g = g;
    this.#h = h;
    this.#order = order;
    this.#second = new Float64Array(new SharedArrayBuffer(features * SLOTS * 3 * 8));
    this.#allowed = new Int32Array(new SharedArrayBuffer(Math.max(1, features) * 4));
    this.#control = new Int32Array(new SharedArrayBuffer(8 * 4));
    const shared = [bins, g, h, order].every((a) => a.buffer instanceof SharedArrayBuffer);
    if (threads > 1 && shared && order.length >= 2 * HALVES_FROM_ROWS) {
      this.#helper = new Worker(helperSource(), {
        eval: true,
        workerData: { bins, features, g, h, order, out: this.#second, allowed: this.#allowed, control: this.#control },
      });
      this.#helper.unref();
    }
  }

  /** Fills `out` (zeroed by the caller) with the histogram of rows order[start..end). */
  build(start: number, end: number, allowed: Int32Array, out: Float64Array): void {
    const rows = end - start;
    if (rows < HALVES_FROM_ROWS) {
      buildHistogram(this.#bins, this.#features, this.#g, this.#h, this.#order, start, end, allowed, out);
      return;
    }
    const mid = start + (rows >> 1);
    const second = this.#second;
    if (this.#helper) {
      const control = this.#control;
      this.#allowed.set(allowed);
      control[START] = mid;
      control[END] = end;
      control[ALLOWED] = allowed.length;
      const task = ++this.#task;
      Atomics.store(control, TASK, task);
      Atomics.notify(control, TASK);
      buildHistogram(this.#bins, this.#features, this.#g, this.#h, this.#order, start, mid, allowed, out);
      const waited = Date.now();
      for (;;) {
        // Wait on the value just compared: a DONE stored in between then wakes us at once.
        const done = Atomics.load(control, DONE);
        if (done === task) break;
        Atomics.wait(control, DONE, done, 1000);
        if (Date.now() - waited > HELPER_TIMEOUT_MS) throw new Error('The histogram helper thread stopped answering.');
      }
    } else {
      buildHistogram(this.#bins, this.#features, this.#g, this.#h, this.#order, start, mid, allowed, out);
      second.fill(0);
      buildHistogram(this.#bins, this.#features, this.#g, this.#h, this.#order, mid, end, allowed, second);
    }
    for (let j = 0; j < out.length; j++) out[j] = out[j]! + second[j]!;
  }

  close(): void {
    if (!this.#helper) return;
    Atomics.store(this.#control, STOP, 1);
    Atomics.store(this.#control, TASK, ++this.#task);
    Atomics.notify(this.#control, TASK);
    void this.#helper.terminate();
    this.#helper = undefined;
  }
}

/** The helper thread: the same `buildHistogram`, by its source text, driven by the control words. */
function helperSource(): string {
  return `
const { workerData } = require('node:worker_threads');
const buildHistogram = ${buildHistogram.toString()};
const { bins, features, g, h, order, out, allowed, control } = workerData;
let seen = 0;
for (;;) {
  Atomics.wait(control, ${TASK}, seen);
  seen = Atomics.load(control, ${TASK});
  if (Atomics.load(control, ${STOP}) === 1) break;
  out.fill(0);
  buildHistogram(bins, features, g, h, order, control[${START}], control[${END}], allowed.subarray(0, control[${ALLOWED}]), out);
  Atomics.store(control, ${DONE}, seen);
  Atomics.notify(control, ${DONE});
}
`;
}
