import { describe, expect, it } from 'vitest';
import { buildHistogram, CHUNK_ROWS, GRADIENT_LEVELS, Histograms, packGradients } from '../../../shared/training/histograms';
import { mulberry32 } from '../../../shared/training/split';

/** Rows of `features` bins padded to whole 32-bit words, with their gradients packed as training packs them. */
function shared(rows: number, features: number) {
  const random = mulberry32(4);
  const wordsPerRow = (features + 3) >> 2;
  const bins = new Uint8Array(new SharedArrayBuffer(rows * wordsPerRow * 4));
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) bins[r * wordsPerRow * 4 + f] = Math.floor(random() * 256);
  const gradients = Float64Array.from({ length: rows }, () => random() - 0.5);
  const hessians = Float64Array.from({ length: rows }, () => random() * 0.25);
  const packed = new Float64Array(new SharedArrayBuffer(rows * 8));
  packGradients(gradients, hessians, 1, 0, rows, 9, packed);
  const order = new Int32Array(new SharedArrayBuffer(rows * 4)).map((_, i) => i);
  const words = new Uint32Array(bins.buffer);
  return { bins, words, wordsPerRow, packed, order };
}

/** A row's quantised [gradient, hessian], read back from its packed value. */
function unpack(p: number): [number, number] {
  const g = Math.floor(p / 2 ** 33);
  return [g, Math.floor((p - g * 2 ** 33) / 2 ** 13)];
}

/** The histogram summed one row and one byte at a time, the definition the word-wise pass must meet. */
function reference(bins: Uint8Array, wordsPerRow: number, features: number, packed: Float64Array, order: Int32Array, start: number, end: number, allowed: Int32Array): Float64Array {
  const out = new Float64Array(features * 768);
  for (let i = start; i < end; i++) {
    const row = order[i]!;
    const [g, h] = unpack(packed[row]!);
    for (const f of allowed) {
      const j = f * 768 + bins[row * wordsPerRow * 4 + f]! * 3;
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
    const gradients = Float64Array.from({ length: rows }, () => random() * 2 - 1.2);
    const hessians = Float64Array.from({ length: rows }, () => random() * 0.25);
    const packed = new Float64Array(rows);
    const scales = packGradients(gradients, hessians, 1, 0, rows, 5, packed);
    let g = 0;
    let h = 0;
    let exactG = 0;
    let exactH = 0;
    for (let i = 0; i < rows; i++) {
      const [gq, hq] = unpack(packed[i]!);
      expect(Number.isInteger(gq) && Math.abs(gq) <= GRADIENT_LEVELS).toBe(true);
      expect(Number.isInteger(hq) && hq >= 0 && hq <= GRADIENT_LEVELS).toBe(true);
      expect(packed[i]! - gq * 2 ** 33 - hq * 2 ** 13).toBe(1);
      // Stochastic rounding moves a value by less than one level.
      expect(Math.abs(gq * scales.gradient - gradients[i]!)).toBeLessThan(scales.gradient);
      g += gq;
      h += hq;
      exactG += gradients[i]!;
      exactH += hessians[i]!;
    }
    // Unbiased: the error of a sum grows like √rows levels, not like rows.
    expect(Math.abs(g * scales.gradient - exactG)).toBeLessThan(3 * Math.sqrt(rows) * scales.gradient);
    expect(Math.abs(h * scales.hessian - exactH)).toBeLessThan(3 * Math.sqrt(rows) * scales.hessian);
  });

  it('is deterministic for a seed, keeps a constant hessian exact, and reads one class of interleaved outputs', () => {
    const rows = 1_000;
    const random = mulberry32(2);
    // Two outputs per row, interleaved; class 1 is the one packed.
    const gradients = Float64Array.from({ length: rows * 2 }, (_, j) => (j % 2 === 1 ? random() - 0.5 : 100));
    const hessians = new Float64Array(rows * 2).fill(1);
    const pack = (seed: number) => {
      const packed = new Float64Array(rows);
      return { scales: packGradients(gradients, hessians, 2, 1, rows, seed, packed), packed };
    };
    const first = pack(3);
    expect(same(first.packed, pack(3).packed)).toBe(true);
    expect(same(first.packed, pack(4).packed)).toBe(false);
    expect(first.scales.hessian).toBe(1 / GRADIENT_LEVELS);
    expect(first.scales.gradient).toBeLessThan(0.5 / GRADIENT_LEVELS + 1e-12);
    for (let i = 0; i < rows; i++) expect(unpack(first.packed[i]!)[1]).toBe(GRADIENT_LEVELS);
  });
});

describe('buildHistogram', () => {
  it.each([1, 4, 5, 7, 28])('sums %i feature(s) four bins per word exactly as row by row, byte by byte', (features) => {
    const rows = 3_000;
    const { bins, words, wordsPerRow, packed, order } = shared(rows, features);
    // A scattered, ascending subset of rows, as a child leaf has.
    const picked = Int32Array.from(order.filter((row) => row % 3 !== 1));
    const tally = new Float64Array(features * 256);
    for (const allowed of [Int32Array.from({ length: features }, (_, f) => f), Int32Array.from([features - 1])]) {
      const out = new Float64Array(features * 768);
      buildHistogram(words, wordsPerRow, features, packed, picked, 5, picked.length, allowed, tally, out);
      expect(same(out, reference(bins, wordsPerRow, features, packed, picked, 5, picked.length, allowed))).toBe(true);
      expect(tally.every((v) => v === 0)).toBe(true);
    }
  });

  it('keeps the packed fields apart at their extremes over a whole chunk of rows and beyond', () => {
    const rows = CHUNK_ROWS * 2 + 3;
    const features = 4;
    const bins = new Uint8Array(rows * 4);
    for (let r = 0; r < rows; r++) bins[r * 4 + 1] = r % 2;
    // Every row at the largest gradient level (negative in odd rows) and the largest hessian level.
    const gradients = Float64Array.from({ length: rows }, (_, r) => (r % 2 === 0 && r < CHUNK_ROWS ? 1 : -1));
    const hessians = new Float64Array(rows).fill(0.25);
    const packed = new Float64Array(rows);
    packGradients(gradients, hessians, 1, 0, rows, 1, packed);
    const order = Int32Array.from({ length: rows }, (_, i) => i);
    const out = new Float64Array(features * 768);
    buildHistogram(new Uint32Array(bins.buffer), 1, features, packed, order, 0, rows, Int32Array.from([0, 1, 2, 3]), new Float64Array(features * 256), out);
    const positive = CHUNK_ROWS / 2;
    expect([out[0], out[1], out[2]]).toEqual([GRADIENT_LEVELS * (positive - (rows - positive)), GRADIENT_LEVELS * rows, rows]);
    const odd = (rows - 1) / 2;
    expect([out[768 + 3], out[768 + 4], out[768 + 5]]).toEqual([-GRADIENT_LEVELS * odd, GRADIENT_LEVELS * odd, odd]);
  });

  it('refuses bins that are not whole 4-byte rows', () => {
    const packed = new Float64Array(new SharedArrayBuffer(8));
    const order = new Int32Array(new SharedArrayBuffer(4));
    expect(() => new Histograms(new Uint8Array(new SharedArrayBuffer(6)), 1, 4, packed, order, 1)).toThrow(/32-bit words/);
    expect(() => new Histograms(new Uint8Array(new SharedArrayBuffer(8)), 1, 5, packed, order, 1)).toThrow(/5 features/);
  });
});

describe('Histograms', () => {
  const rows = 50_000;
  const features = 6;
  const { bins, wordsPerRow, packed, order } = shared(rows, features);
  const all = Int32Array.from({ length: features }, (_, f) => f);

  it.each([1, 2])('sums every row of a large range with %i thread(s), as one pass would', (threads) => {
    const histograms = new Histograms(bins, wordsPerRow, features, packed, order, threads);
    try {
      const out = new Float64Array(features * 768);
      histograms.build(10, rows, all, out);
      expect(same(out, reference(bins, wordsPerRow, features, packed, order, 10, rows, all))).toBe(true);
    } finally {
      histograms.close();
    }
  });

  it('gives the same bits with and without the helper thread, for a subset of features too', () => {
    const some = Int32Array.from([1, 3]);
    const results = [1, 2].flatMap((threads) => {
      const histograms = new Histograms(bins, wordsPerRow, features, packed, order, threads);
      try {
        return [all, some].map((allowed) => {
          const out = new Float64Array(features * 768);
          histograms.build(0, rows - 7, allowed, out);
          return out;
        });
      } finally {
        histograms.close();
      }
    });
    expect(same(results[0]!, results[2]!)).toBe(true);
    expect(same(results[1]!, results[3]!)).toBe(true);
  });
});
