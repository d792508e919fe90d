import { Worker } from 'node:worker_threads';

/** Histogram slots per feature: 255 value bins and the missing-value bin. */
export const SLOTS = 256;
/** Below this many rows a range is summed in one pass; above, as two halves (one per thread). */
const HALVES_FROM_ROWS = 8_192;
/** A helper that has not answered for this long is taken as dead. */
const HELPER_TIMEOUT_MS = 120_000;

/**
 * Quantised gradients: each row's gradient becomes an integer in [-128, 128] and its hessian one in
 * [0, 128] (stochastic rounding, seeded), packed with a count of 1 into one float64 as
 * g × 2^33 + h × 2^13 + 1. Summed over at most {@link CHUNK_ROWS} rows the three fields stay apart
 * (count < 2^13, hessian < 2^20, |gradient| ≤ 2^19, total < 2^53) and every sum is exact, so a
 * histogram is one float64 addition per (row, feature) instead of three, and it does not depend on
 * the order in which rows are added (or on how they are split between threads).
 */
export const GRADIENT_LEVELS = 128;
/** Rows summed into one packed histogram before its fields are taken apart. */
export const CHUNK_ROWS = 4_096;
const G_UNIT = 2 ** 33;
const H_UNIT = 2 ** 13;

/** How quantised units convert back to gradients and hessians, for one tree. */
export interface GradientScales {
  readonly gradient: number;
  readonly hessian: number;
}

/**
 * Fills `packed[row]` for rows 0..rows-1 from `gradients[row × stride + k]` and the hessians alike,
 * rounding stochastically with `seed` (unbiased on average, so the sums stay close to the exact ones).
 */
export function packGradients(
  gradients: Float64Array,
  hessians: Float64Array,
  stride: number,
  k: number,
  rows: number,
  seed: number,
  packed: Float64Array,
): GradientScales {
  let maxG = 0;
  let maxH = 0;
  for (let i = 0, j = k; i < rows; i++, j += stride) {
    const g = Math.abs(gradients[j]!);
    const h = hessians[j]!;
    if (g > maxG) maxG = g;
    if (h > maxH) maxH = h;
  }
  const gradient = maxG > 0 ? maxG / GRADIENT_LEVELS : 1;
  const hessian = maxH > 0 ? maxH / GRADIENT_LEVELS : 1;
  const gInverse = 1 / gradient;
  const hInverse = 1 / hessian;
  // mulberry32 inline: one 32-bit draw gives both roundings 16 bits of randomness each.
  let a = seed >>> 0;
  for (let i = 0, j = k; i < rows; i++, j += stride) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    // min/max guard the rounding of g / scale just past a level at the extremes.
    const gq = Math.max(-GRADIENT_LEVELS, Math.min(GRADIENT_LEVELS, Math.floor(gradients[j]! * gInverse + (t & 0xffff) / 65536)));
    const hq = Math.max(0, Math.min(GRADIENT_LEVELS, Math.floor(hessians[j]! * hInverse + (t >>> 16) / 65536)));
    packed[i] = gq * G_UNIT + hq * H_UNIT + 1;
  }
  return { gradient, hessian };
}

/**
 * Adds the histogram of rows order[start..end) to `out` (features × 256 slots × [gradient, hessian,
 * count], in quantised units). Row by row over row-major bins whose rows are padded to whole
 * 32-bit words: one load yields four features' bins (bytes in little-endian order), and each
 * (row, feature) is one addition of the row's packed value into `tally` (features × 256, zero on
 * entry and on return, small enough for L1), taken apart into `out` every {@link CHUNK_ROWS} rows.
 * Self-contained, literals only (compiled references to module constants would not exist there):
 * the helper thread runs its source text.
 */
export function buildHistogram(
  words: Uint32Array,
  wordsPerRow: number,
  features: number,
  packed: Float64Array,
  order: Int32Array,
  start: number,
  end: number,
  allowed: Int32Array,
  tally: Float64Array,
  out: Float64Array,
): void {
  const width = 256;
  const full = features >> 2;
  const rest = features & 3;
  // Byte by byte for a subset of features, and on a big-endian machine, where a word's low byte is not the first.
  const bytewise = allowed.length !== features || new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1;
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const stride = wordsPerRow * 4;
  for (let first = start; first < end; first += 4096) {
    const last = Math.min(end, first + 4096);
    if (bytewise) {
      for (let i = first; i < last; i++) {
        const row = order[i]!;
        const p = packed[row]!;
        const base = row * stride;
        for (let a = 0; a < allowed.length; a++) {
          const f = allowed[a]!;
          const j = f * width + bytes[base + f]!;
          tally[j] = tally[j]! + p;
        }
      }
    } else {
      // Two rows at a time: the additions of one row do not wait on the other's.
      let i = first;
      for (; i + 1 < last; i += 2) {
        const r0 = order[i]!;
        const r1 = order[i + 1]!;
        const p0 = packed[r0]!;
        const p1 = packed[r1]!;
        const b0 = r0 * wordsPerRow;
        const b1 = r1 * wordsPerRow;
        let slot = 0;
        for (let q = 0; q < full; q++, slot += 4 * width) {
          const w = words[b0 + q]!;
          const v = words[b1 + q]!;
          let j = slot + (w & 255);
          tally[j] = tally[j]! + p0;
          j = slot + (v & 255);
          tally[j] = tally[j]! + p1;
          j = slot + width + ((w >>> 8) & 255);
          tally[j] = tally[j]! + p0;
          j = slot + width + ((v >>> 8) & 255);
          tally[j] = tally[j]! + p1;
          j = slot + 2 * width + ((w >>> 16) & 255);
          tally[j] = tally[j]! + p0;
          j = slot + 2 * width + ((v >>> 16) & 255);
          tally[j] = tally[j]! + p1;
          j = slot + 3 * width + (w >>> 24);
          tally[j] = tally[j]! + p0;
          j = slot + 3 * width + (v >>> 24);
          tally[j] = tally[j]! + p1;
        }
        for (let k = 0; k < rest; k++) {
          const j = slot + k * width;
          const a = j + bytes[b0 * 4 + 4 * full + k]!;
          tally[a] = tally[a]! + p0;
          const b = j + bytes[b1 * 4 + 4 * full + k]!;
          tally[b] = tally[b]! + p1;
        }
      }
      if (i < last) {
        const row = order[i]!;
        const p = packed[row]!;
        const base = row * stride;
        for (let f = 0; f < features; f++) {
          const j = f * width + bytes[base + f]!;
          tally[j] = tally[j]! + p;
        }
      }
    }
    // Take the packed sums apart: count in the low 13 bits, hessian in the next 20, gradient (signed) above.
    for (let a = 0; a < allowed.length; a++) {
      const f = allowed[a]!;
      for (let j = f * width, o = f * width * 3, e = j + width; j < e; j++, o += 3) {
        const s = tally[j]!;
        if (s === 0) continue;
        tally[j] = 0;
        const g = Math.floor(s / 8589934592);
        const low = s - g * 8589934592;
        const h = Math.floor(low / 8192);
        out[o] = out[o]! + g;
        out[o + 1] = out[o + 1]! + h;
        out[o + 2] = out[o + 2]! + (low - h * 8192);
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
 * Builds histograms over shared training buffers, summing a large range as two halves: the first
 * here, the second on a helper thread when there is one. Quantised sums are exact, so the result
 * does not depend on the core count.
 */
export class Histograms {
  readonly #words: Uint32Array;
  readonly #wordsPerRow: number;
  readonly #features: number;
  readonly #packed: Float64Array;
  readonly #order: Int32Array;
  readonly #tally: Float64Array;
  readonly #second: Float64Array;
  readonly #allowed: Int32Array;
  readonly #control: Int32Array;
  #helper: Worker | undefined;
  #task = 0;

  /**
   * `bins` holds rows of `wordsPerRow × 4` bytes (feature f of row r at r × wordsPerRow × 4 + f),
   * starting on a 4-byte boundary; `packed` holds each row's quantised gradient, hessian and count
   * (see {@link packGradients}). `bins`, `packed` and `order` must live on SharedArrayBuffers for
   * a helper thread to read them.
   */
  constructor(bins: Uint8Array, wordsPerRow: number, features: number, packed: Float64Array, order: Int32Array, threads: number) {
    if (bins.byteOffset % 4 !== 0 || bins.length !== (bins.length >> 2) << 2 || wordsPerRow * 4 < features) {
      throw new Error(`Histogram bins must be whole rows of ${wordsPerRow} 32-bit words holding ${features} features, 4-byte aligned`);
    }
    this.#words = new Uint32Array(bins.buffer, bins.byteOffset, bins.length >> 2);
    this.#wordsPerRow = wordsPerRow;
    this.#features = features;
    this.#packed = packed;
    this.#order = order;
    this.#tally = new Float64Array(features * SLOTS);
    this.#second = new Float64Array(new SharedArrayBuffer(features * SLOTS * 3 * 8));
    this.#allowed = new Int32Array(new SharedArrayBuffer(Math.max(1, features) * 4));
    this.#control = new Int32Array(new SharedArrayBuffer(8 * 4));
    const shared = [bins, packed, order].every((a) => a.buffer instanceof SharedArrayBuffer);
    if (threads > 1 && shared && packed.length >= 2 * HALVES_FROM_ROWS) {
      this.#helper = new Worker(helperSource(), {
        eval: true,
        workerData: { words: this.#words, wordsPerRow, features, packed, order, out: this.#second, allowed: this.#allowed, control: this.#control },
      });
      this.#helper.unref();
    }
  }

  /** Fills `out` (zeroed by the caller) with the histogram of rows order[start..end). */
  build(start: number, end: number, allowed: Int32Array, out: Float64Array): void {
    const rows = end - start;
    const build = (from: number, to: number, into: Float64Array): void =>
      buildHistogram(this.#words, this.#wordsPerRow, this.#features, this.#packed, this.#order, from, to, allowed, this.#tally, into);
    if (rows < HALVES_FROM_ROWS || !this.#helper) {
      build(start, end, out);
      return;
    }
    const mid = start + (rows >> 1);
    const control = this.#control;
    this.#allowed.set(allowed);
    control[START] = mid;
    control[END] = end;
    control[ALLOWED] = allowed.length;
    const task = ++this.#task;
    Atomics.store(control, TASK, task);
    Atomics.notify(control, TASK);
    build(start, mid, out);
    const waited = Date.now();
    for (;;) {
      // Wait on the value just compared: a DONE stored in between then wakes us at once.
      const done = Atomics.load(control, DONE);
      if (done === task) break;
      Atomics.wait(control, DONE, done, 1000);
      if (Date.now() - waited > HELPER_TIMEOUT_MS) throw new Error('The histogram helper thread stopped answering.');
    }
    const second = this.#second;
    for (let a = 0; a < allowed.length; a++) {
      for (let j = allowed[a]! * SLOTS * 3, e = j + SLOTS * 3; j < e; j++) out[j] = out[j]! + second[j]!;
    }
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
const { words, wordsPerRow, features, packed, order, out, allowed, control } = workerData;
const tally = new Float64Array(features * 256);
let seen = 0;
for (;;) {
  Atomics.wait(control, ${TASK}, seen);
  seen = Atomics.load(control, ${TASK});
  if (Atomics.load(control, ${STOP}) === 1) break;
  out.fill(0);
  buildHistogram(words, wordsPerRow, features, packed, order, control[${START}], control[${END}], allowed.subarray(0, control[${ALLOWED}]), tally, out);
  Atomics.store(control, ${DONE}, seen);
  Atomics.notify(control, ${DONE});
}
`;
}
