import { describe, expect, it } from 'vitest';
import { buildHistogram, Histograms } from '../../../shared/training/histograms';
import { mulberry32 } from '../../../shared/training/split';

/** Rows of `features` bins padded to whole 32-bit words, with interleaved [gradient, hessian]. */
function shared(rows: number, features: number) {
  const random = mulberry32(4);
  const wordsPerRow = (features + 3) >> 2;
  const bins = new Uint8Array(new SharedArrayBuffer(rows * wordsPerRow * 4));
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) bins[r * wordsPerRow * 4 + f] = Math.floor(random() * 256);
  const gh = new Float64Array(new SharedArrayBuffer(rows * 16)).map((_, k) => (k % 2 === 0 ? random() - 0.5 : random()));
  const order = new Int32Array(new SharedArrayBuffer(rows * 4)).map((_, i) => i);
  const words = new Uint32Array(bins.buffer);
  return { bins, words, wordsPerRow, gh, order };
}

/** The histogram summed one byte at a time, the definition the word-wise pass must meet. */
function reference(bins: Uint8Array, wordsPerRow: number, features: number, gh: Float64Array, order: Int32Array, start: number, end: number, allowed: Int32Array): Float64Array {
  const out = new Float64Array(features * 768);
  for (let i = start; i < end; i++) {
    const row = order[i]!;
    for (const f of allowed) {
      const j = f * 768 + bins[row * wordsPerRow * 4 + f]! * 3;
      out[j] = out[j]! + gh[2 * row]!;
      out[j + 1] = out[j + 1]! + gh[2 * row + 1]!;
      out[j + 2] = out[j + 2]! + 1;
    }
  }
  return out;
}

const same = (a: Float64Array, b: Float64Array): boolean => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

describe('buildHistogram', () => {
  it.each([1, 4, 5, 7, 28])('sums %i feature(s) four bins per word exactly as byte by byte, in the same order', (features) => {
    const rows = 3_000;
    const { bins, words, wordsPerRow, gh, order } = shared(rows, features);
    // A scattered, ascending subset of rows, as a child leaf has.
    const picked = Int32Array.from(order.filter((row) => row % 3 !== 1));
    for (const allowed of [Int32Array.from({ length: features }, (_, f) => f), Int32Array.from([features - 1])]) {
      const out = new Float64Array(features * 768);
      buildHistogram(words, wordsPerRow, features, gh, picked, 5, picked.length, allowed, out);
      expect(same(out, reference(bins, wordsPerRow, features, gh, picked, 5, picked.length, allowed))).toBe(true);
    }
  });

  it('refuses bins that are not whole 4-byte rows', () => {
    const gh = new Float64Array(new SharedArrayBuffer(16));
    const order = new Int32Array(new SharedArrayBuffer(4));
    expect(() => new Histograms(new Uint8Array(new SharedArrayBuffer(6)), 1, 4, gh, order, 1)).toThrow(/32-bit words/);
    expect(() => new Histograms(new Uint8Array(new SharedArrayBuffer(8)), 1, 5, gh, order, 1)).toThrow(/5 features/);
  });
});

describe('Histograms', () => {
  const rows = 50_000;
  const features = 6;
  const { bins, words, wordsPerRow, gh, order } = shared(rows, features);
  const all = Int32Array.from({ length: features }, (_, f) => f);

  it.each([1, 2])('sums every row of a large range with %i thread(s), as one pass would', (threads) => {
    const direct = new Float64Array(features * 768);
    buildHistogram(words, wordsPerRow, features, gh, order, 10, rows, all, direct);
    const histograms = new Histograms(bins, wordsPerRow, features, gh, order, threads);
    try {
      const halves = new Float64Array(features * 768);
      histograms.build(10, rows, all, halves);
      for (let j = 0; j < direct.length; j += 3) {
        expect(halves[j + 2]).toBe(direct[j + 2]);
        expect(halves[j]!).toBeCloseTo(direct[j]!, 9);
        expect(halves[j + 1]!).toBeCloseTo(direct[j + 1]!, 9);
      }
      let counted = 0;
      for (let j = 2; j < 768; j += 3) counted += halves[j]!;
      expect(counted).toBe(rows - 10);
    } finally {
      histograms.close();
    }
  });

  it('gives the same bits with and without the helper thread, for a subset of features too', () => {
    const some = Int32Array.from([1, 3]);
    const results = [1, 2].flatMap((threads) => {
      const histograms = new Histograms(bins, wordsPerRow, features, gh, order, threads);
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
