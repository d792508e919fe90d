import { Worker } from 'node:worker_threads';

/** Histogram slots per feature: 255 value bins and the missing-value bin. */
export const SLOTS = 256;
/** Below this many rows a range is summed in one pass; above, as two halves (one per thread). */
const HALVES_FROM_ROWS = 8_192;
/** A helper that has not answered for this long is taken as dead. */
const HELPER_TIMEOUT_MS = 120_000;

/**
 * Sums gradient, hessian and count per (feature, bin) over rows order[start..end). Row by row
 * over row-major bins whose rows are padded to whole 32-bit words: one load yields four features'
 * bins (bytes in little-endian order), so the loop does a quarter of the bounds-checked loads and
 * the histogram (features × 256 × 3 doubles) stays in cache. `gh` interleaves each row's gradient
 * and hessian, one cache line for both. Self-contained, literals only (compiled references to
 * module constants would not exist there): the helper thread runs its source text.
 */
export function buildHistogram(
  words: Uint32Array,
  wordsPerRow: number,
  features: number,
  gh: Float64Array,
  order: Int32Array,
  start: number,
  end: number,
  allowed: Int32Array,
  out: Float64Array,
): void {
  const width = 768; // 256 slots × (gradient, hessian, count)
  // Byte by byte for a subset of features, and on a big-endian machine, where a word's low byte is not the first.
  if (allowed.length !== features || new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) {
    const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    const stride = wordsPerRow * 4;
    for (let i = start; i < end; i++) {
      const row = order[i]!;
      const gi = gh[2 * row]!;
      const hi = gh[2 * row + 1]!;
      const base = row * stride;
      for (let a = 0; a < allowed.length; a++) {
        const f = allowed[a]!;
        const j = f * width + bytes[base + f]! * 3;
        out[j] = out[j]! + gi;
        out[j + 1] = out[j + 1]! + hi;
        out[j + 2] = out[j + 2]! + 1;
      }
    }
    return;
  }
  const full = features >> 2;
  const rest = features & 3;
  // Two rows at a time: the additions of one row do not wait on the other's, and each
  // (feature, bin) still receives its rows in order, so the sums are the same bits.
  let i = start;
  for (; i + 1 < end; i += 2) {
    const r0 = order[i]!;
    const r1 = order[i + 1]!;
    const g0 = gh[2 * r0]!;
    const h0 = gh[2 * r0 + 1]!;
    const g1 = gh[2 * r1]!;
    const h1 = gh[2 * r1 + 1]!;
    const b0 = r0 * wordsPerRow;
    const b1 = r1 * wordsPerRow;
    let slot = 0;
    for (let q = 0; q < full; q++, slot += 4 * width) {
      const w = words[b0 + q]!;
      const v = words[b1 + q]!;
      let j = slot + (w & 255) * 3;
      out[j] = out[j]! + g0;
      out[j + 1] = out[j + 1]! + h0;
      out[j + 2] = out[j + 2]! + 1;
      j = slot + (v & 255) * 3;
      out[j] = out[j]! + g1;
      out[j + 1] = out[j + 1]! + h1;
      out[j + 2] = out[j + 2]! + 1;
      j = slot + width + ((w >>> 8) & 255) * 3;
      out[j] = out[j]! + g0;
      out[j + 1] = out[j + 1]! + h0;
      out[j + 2] = out[j + 2]! + 1;
      j = slot + width + ((v >>> 8) & 255) * 3;
      out[j] = out[j]! + g1;
      out[j + 1] = out[j + 1]! + h1;
      out[j + 2] = out[j + 2]! + 1;
      j = slot + 2 * width + ((w >>> 16) & 255) * 3;
      out[j] = out[j]! + g0;
      out[j + 1] = out[j + 1]! + h0;
      out[j + 2] = out[j + 2]! + 1;
      j = slot + 2 * width + ((v >>> 16) & 255) * 3;
      out[j] = out[j]! + g1;
      out[j + 1] = out[j + 1]! + h1;
      out[j + 2] = out[j + 2]! + 1;
      j = slot + 3 * width + (w >>> 24) * 3;
      out[j] = out[j]! + g0;
      out[j + 1] = out[j + 1]! + h0;
      out[j + 2] = out[j + 2]! + 1;
      j = slot + 3 * width + (v >>> 24) * 3;
      out[j] = out[j]! + g1;
      out[j + 1] = out[j + 1]! + h1;
      out[j + 2] = out[j + 2]! + 1;
    }
    if (rest > 0) {
      const w = words[b0 + full]!;
      const v = words[b1 + full]!;
      for (let k = 0; k < rest; k++, slot += width) {
        let j = slot + ((w >>> (8 * k)) & 255) * 3;
        out[j] = out[j]! + g0;
        out[j + 1] = out[j + 1]! + h0;
        out[j + 2] = out[j + 2]! + 1;
        j = slot + ((v >>> (8 * k)) & 255) * 3;
        out[j] = out[j]! + g1;
        out[j + 1] = out[j + 1]! + h1;
        out[j + 2] = out[j + 2]! + 1;
      }
    }
  }
  if (i < end) {
    const row = order[i]!;
    const gi = gh[2 * row]!;
    const hi = gh[2 * row + 1]!;
    const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    const base = row * wordsPerRow * 4;
    for (let f = 0; f < features; f++) {
      const j = f * width + bytes[base + f]! * 3;
      out[j] = out[j]! + gi;
      out[j + 1] = out[j + 1]! + hi;
      out[j + 2] = out[j + 2]! + 1;
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
  readonly #words: Uint32Array;
  readonly #wordsPerRow: number;
  readonly #features: number;
  readonly #gh: Float64Array;
  readonly #order: Int32Array;
  readonly #second: Float64Array;
  readonly #allowed: Int32Array;
  readonly #control: Int32Array;
  #helper: Worker | undefined;
  #task = 0;

  /**
   * `bins` holds rows of `wordsPerRow × 4` bytes (feature f of row r at r × wordsPerRow × 4 + f),
   * starting on a 4-byte boundary; `gh` holds [gradient, hessian] per row. `bins`, `gh` and
   * `order` must live on SharedArrayBuffers for a helper thread to read them.
   */
  constructor(bins: Uint8Array, wordsPerRow: number, features: number, gh: Float64Array, order: Int32Array, threads: number) {
    if (bins.byteOffset % 4 !== 0 || bins.length !== (bins.length >> 2) << 2 || wordsPerRow * 4 < features) {
      throw new Error(`Histogram bins must be whole rows of ${wordsPerRow} 32-bit words holding ${features} features, 4-byte aligned`);
    }
    this.#words = new Uint32Array(bins.buffer, bins.byteOffset, bins.length >> 2);
    this.#wordsPerRow = wordsPerRow;
    this.#features = features;
    this.#gh = gh;
    this.#order = order;
    this.#second = new Float64Array(new SharedArrayBuffer(features * SLOTS * 3 * 8));
    this.#allowed = new Int32Array(new SharedArrayBuffer(Math.max(1, features) * 4));
    this.#control = new Int32Array(new SharedArrayBuffer(8 * 4));
    const shared = [bins, gh, order].every((a) => a.buffer instanceof SharedArrayBuffer);
    if (threads > 1 && shared && order.length >= 2 * HALVES_FROM_ROWS) {
      this.#helper = new Worker(helperSource(), {
        eval: true,
        workerData: { words: this.#words, wordsPerRow, features, gh, order, out: this.#second, allowed: this.#allowed, control: this.#control },
      });
      this.#helper.unref();
    }
  }

  /** Fills `out` (zeroed by the caller) with the histogram of rows order[start..end). */
  build(start: number, end: number, allowed: Int32Array, out: Float64Array): void {
    const rows = end - start;
    if (rows < HALVES_FROM_ROWS) {
      buildHistogram(this.#words, this.#wordsPerRow, this.#features, this.#gh, this.#order, start, end, allowed, out);
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
      buildHistogram(this.#words, this.#wordsPerRow, this.#features, this.#gh, this.#order, start, mid, allowed, out);
      const waited = Date.now();
      for (;;) {
        // Wait on the value just compared: a DONE stored in between then wakes us at once.
        const done = Atomics.load(control, DONE);
        if (done === task) break;
        Atomics.wait(control, DONE, done, 1000);
        if (Date.now() - waited > HELPER_TIMEOUT_MS) throw new Error('The histogram helper thread stopped answering.');
      }
    } else {
      buildHistogram(this.#words, this.#wordsPerRow, this.#features, this.#gh, this.#order, start, mid, allowed, out);
      second.fill(0);
      buildHistogram(this.#words, this.#wordsPerRow, this.#features, this.#gh, this.#order, mid, end, allowed, second);
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
const { words, wordsPerRow, features, gh, order, out, allowed, control } = workerData;
let seen = 0;
for (;;) {
  Atomics.wait(control, ${TASK}, seen);
  seen = Atomics.load(control, ${TASK});
  if (Atomics.load(control, ${STOP}) === 1) break;
  out.fill(0);
  buildHistogram(words, wordsPerRow, features, gh, order, control[${START}], control[${END}], allowed.subarray(0, control[${ALLOWED}]), out);
  Atomics.store(control, ${DONE}, seen);
  Atomics.notify(control, ${DONE});
}
`;
}
