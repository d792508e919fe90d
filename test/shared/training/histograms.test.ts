import { describe, expect, it } from 'vitest';
import { buildHistogram, CHUNK_ROWS, GRADIENT_LEVELS, gradientScales, packGradients, sumGradients, type GradientSource } from '../../../shared/training/histograms';
import { mulberry32 } from '../../../shared/training/split';

/** Rows of `features` bins padded to whole 32-bit words, with their gradients packed as training packs them. */
function shared(rows: number, features: number) {
  const random = mulberry32(4);
  const wordsPerRow = (features + 3) >> 2;
  const bins = new Uint8Array(new SharedArrayBuffer(rows * wordsPerRow * 4));
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) bins[r * wordsPerRow * 4 + f] = Math.floor(random() * 256);
  // Rows of [target, probability], as a binary classifier's state holds them.
  const values = Float64Array.from({ length: rows * 2 }, (_, j) => (j % 2 === 0 ? (random() < 0.5 ? 1 : 0) : random()));
  const packed = new Float64Array(new SharedArrayBuffer(rows * 8));
  packGradients(logLoss(values, -1), 0, rows, gradientScales(1, 0.25), 9, packed);
  const words = new Uint32Array(bins.buffer);
  return { bins, words, wordsPerRow, packed };
}

/** Rows of [target, probability]: the gradient of class `classIndex` (-1: binary) under log loss. */
function logLoss(values: Float64Array, classIndex: number): GradientSource {
  return { values, stride: 2, targetAt: 0, scoreAt: 1, loss: 'log', classIndex };
}

/** A row's quantised [gradient, hessian], read back from its packed value. */
function unpack(p: number): [number, number] {
  const g = Math.floor(p / 2 ** 33);
  return [g, Math.floor((p - g * 2 ** 33) / 2 ** 14)];
}

/** The histogram summed one row and one byte at a time, the definition the word-wise pass must meet. */
function reference(bins: Uint8Array, wordsPerRow: number, features: number, packed: Float64Array, start: number, end: number, allowed: Int32Array): Float64Array {
  const out = new Float64Array(features * 768);
  for (let p = start; p < end; p++) {
    const [g, h] = unpack(packed[p]!);
    for (const f of allowed) {
      const j = f * 768 + bins[p * wordsPerRow * 4 + f]! * 3;
      out[j] = out[j]! + g;
      out[j + 1] = out[j + 1]! + h;
      out[j + 2] = out[j + 2]! + 1;
    }
  }
  return out;
}

const same = (a: Float64Array, b: Float64Array): boolean => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

describe('packGradients', () => {
  it('rounds gradients and hessians to integer levels whose sums, scaled back, stay close to the exact sums', () => {
    const rows = 20_000;
    const random = mulberry32(1);
    // Three classes; the tree of class 2: g = p - [target is 2], h = p (1 - p).
    const values = Float64Array.from({ length: rows * 2 }, (_, j) => (j % 2 === 0 ? Math.floor(random() * 3) : random()));
    const gradientOf = (i: number): number => values[2 * i + 1]! - (values[2 * i] === 2 ? 1 : 0);
    const hessianOf = (i: number): number => values[2 * i + 1]! * (1 - values[2 * i + 1]!);
    const packed = new Float64Array(rows);
    const scales = gradientScales(1, 0.25);
    packGradients(logLoss(values, 2), 0, rows, scales, 5, packed);
    let g = 0;
    let h = 0;
    let exactG = 0;
    let exactH = 0;
    for (let i = 0; i < rows; i++) {
      const [gq, hq] = unpack(packed[i]!);
      expect(Number.isInteger(gq) && Math.abs(gq) <= GRADIENT_LEVELS).toBe(true);
      expect(Number.isInteger(hq) && hq >= 0 && hq <= GRADIENT_LEVELS).toBe(true);
      expect(packed[i]! - gq * 2 ** 33 - hq * 2 ** 14).toBe(1);
      // Stochastic rounding moves a value by less than one level.
      expect(Math.abs(gq * scales.gradient - gradientOf(i))).toBeLessThan(scales.gradient);
      g += gq;
      h += hq;
      exactG += gradientOf(i);
      exactH += hessianOf(i);
    }
    // Unbiased: the error of a sum grows like √rows levels, not like rows.
    expect(Math.abs(g * scales.gradient - exactG)).toBeLessThan(3 * Math.sqrt(rows) * scales.gradient);
    expect(Math.abs(h * scales.hessian - exactH)).toBeLessThan(3 * Math.sqrt(rows) * scales.hessian);
    // The exact sums, as leaf values use them.
    const sums = new Float64Array(2);
    sumGradients(logLoss(values, 2), 0, rows, sums, 0);
    expect(sums[0]).toBeCloseTo(exactG, 8);
    expect(sums[1]).toBeCloseTo(exactH, 8);
  });

  it('is deterministic for a seed, keeps the constant hessian of squared error exact, and reads rows of state', () => {
    const rows = 1_000;
    const random = mulberry32(2);
    // Rows of [target, raw score, something else]: g = raw - target, h = 1.
    const values = Float64Array.from({ length: rows * 3 }, (_, j) => (j % 3 === 0 ? random() : j % 3 === 1 ? random() - 0.5 : 100));
    const squared: GradientSource = { values, stride: 3, targetAt: 0, scoreAt: 1, loss: 'squared', classIndex: -1 };
    const scales = gradientScales(1.5, 1);
    const pack = (seed: number, start = 0) => {
      const packed = new Float64Array(rows);
      packGradients(squared, start, rows, scales, seed, packed);
      return packed;
    };
    const first = pack(3);
    expect(same(first, pack(3))).toBe(true);
    expect(same(first, pack(4))).toBe(false);
    expect(scales.hessian).toBe(1 / GRADIENT_LEVELS);
    for (let i = 0; i < rows; i++) expect(unpack(first[i]!)[1]).toBe(GRADIENT_LEVELS);
    // Positions before `start` are left alone.
    expect(pack(3, 10).subarray(0, 10).every((v) => v === 0)).toBe(true);
    const sums = new Float64Array(4);
    sumGradients(squared, 10, 20, sums, 2);
    let g = 0;
    for (let i = 10; i < 20; i++) g += values[3 * i + 1]! - values[3 * i]!;
    expect([sums[0], sums[1], sums[2], sums[3]]).toEqual([0, 0, g, 10]);
  });

  it('reads a binary classifier kept as e^−raw as it reads the probability 1 / (1 + e^−raw)', () => {
    const rows = 2_000;
    const random = mulberry32(6);
    const raw = Float64Array.from({ length: rows }, () => random() * 8 - 4);
    const target = Float64Array.from({ length: rows }, () => (random() < 0.5 ? 1 : 0));
    const asProbability = Float64Array.from({ length: rows * 2 }, (_, j) => (j % 2 === 0 ? target[j >> 1]! : 1 / (1 + Math.exp(-raw[j >> 1]!))));
    const asExponential = Float64Array.from({ length: rows * 2 }, (_, j) => (j % 2 === 0 ? target[j >> 1]! : Math.exp(-raw[j >> 1]!)));
    const logistic: GradientSource = { values: asExponential, stride: 2, targetAt: 0, scoreAt: 1, loss: 'logistic', classIndex: -1 };
    const [fromProbability, fromExponential] = [logLoss(asProbability, -1), logistic].map((source) => {
      const packed = new Float64Array(rows);
      packGradients(source, 0, rows, gradientScales(1, 0.25), 8, packed);
      const sums = new Float64Array(2);
      sumGradients(source, 0, rows, sums, 0);
      return { packed, sums };
    });
    expect(same(fromProbability!.packed, fromExponential!.packed)).toBe(true);
    expect(fromExponential!.sums[0]).toBeCloseTo(fromProbability!.sums[0]!, 10);
    expect(fromExponential!.sums[1]).toBeCloseTo(fromProbability!.sums[1]!, 10);
  });

  it('maps the largest |gradient| and hessian to the top level, and an all-zero column to a unit scale', () => {
    expect(gradientScales(2, 0.5)).toEqual({ gradient: 2 / GRADIENT_LEVELS, hessian: 0.5 / GRADIENT_LEVELS });
    expect(gradientScales(0, 0)).toEqual({ gradient: 1, hessian: 1 });
  });
});

describe('buildHistogram', () => {
  it.each([1, 4, 5, 7, 28, 261])('sums %i feature(s) four bins per word exactly as row by row, byte by byte', (features) => {
    const rows = 3_000;
    const { bins, words, wordsPerRow, packed } = shared(rows, features);
    const tally = new Float64Array(features * 256);
    for (const allowed of [Int32Array.from({ length: features }, (_, f) => f), Int32Array.from([features - 1])]) {
      // An odd start and an odd length: a row left over from the pairs at both ends.
      const out = new Float64Array(features * 768);
      buildHistogram(words, wordsPerRow, features, packed, 5, rows - 2, allowed, tally, out);
      expect(same(out, reference(bins, wordsPerRow, features, packed, 5, rows - 2, allowed))).toBe(true);
      expect(tally.every((v) => v === 0)).toBe(true);
    }
  });

  it('keeps the packed fields apart at their extremes over a whole chunk of rows and beyond', () => {
    const rows = CHUNK_ROWS * 2 + 3;
    const features = 4;
    const bins = new Uint8Array(rows * 4);
    for (let r = 0; r < rows; r++) bins[r * 4 + 1] = r % 2;
    // Every row at the largest gradient level (negative where the target is 1) and the largest
    // hessian level: probability ½, so g = ±½ and h = ¼, each the top of its scale.
    const values = Float64Array.from({ length: rows * 2 }, (_, j) => (j % 2 === 1 ? 0.5 : (j >> 1) % 2 === 0 && j >> 1 < CHUNK_ROWS ? 0 : 1));
    const packed = new Float64Array(rows);
    packGradients(logLoss(values, -1), 0, rows, gradientScales(0.5, 0.25), 1, packed);
    const out = new Float64Array(features * 768);
    buildHistogram(new Uint32Array(bins.buffer), 1, features, packed, 0, rows, Int32Array.from([0, 1, 2, 3]), new Float64Array(features * 256), out);
    const positive = Math.ceil(CHUNK_ROWS / 2);
    expect([out[0], out[1], out[2]]).toEqual([GRADIENT_LEVELS * (positive - (rows - positive)), GRADIENT_LEVELS * rows, rows]);
    const odd = (rows - 1) / 2;
    expect([out[768 + 3], out[768 + 4], out[768 + 5]]).toEqual([-GRADIENT_LEVELS * odd, GRADIENT_LEVELS * odd, odd]);
  });
});
