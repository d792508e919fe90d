import { describe, expect, it } from 'vitest';
import { buildHistogram, Histograms } from '../../../shared/training/histograms';
import { mulberry32 } from '../../../shared/training/split';

function shared(rows: number, features: number) {
  const random = mulberry32(4);
  const bins = new Uint8Array(new SharedArrayBuffer(rows * features)).map(() => Math.floor(random() * 256));
  const g = new Float64Array(new SharedArrayBuffer(rows * 8)).map(() => random() - 0.5);
  const h = new Float64Array(new SharedArrayBuffer(rows * 8)).map(() => random());
  const order = new Int32Array(new SharedArrayBuffer(rows * 4)).map((_, i) => i);
  return { bins, g, h, order };
}

describe('Histograms', () => {
  const rows = 50_000;
  const features = 4;
  const { bins, g, h, order } = shared(rows, features);
  const all = Int32Array.from({ length: features }, (_, f) => f);

  it.each([1, 2])('sums every row of a large range with %i thread(s), as one pass would', (threads) => {
    const direct = new Float64Array(features * 768);
    buildHistogram(bins, features, g, h, order, 10, rows, all, direct);
    const histograms = new Histograms(bins, features, g, h, order, threads);
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
    const results = [1, 2].map((threads) => {
      const histograms = new Histograms(bins, features, g, h, order, threads);
      try {
        const out = new Float64Array(features * 768);
        histograms.build(0, rows - 7, some, out);
        return out;
      } finally {
        histograms.close();
      }
    });
    expect(Buffer.from(results[0]!.buffer).equals(Buffer.from(results[1]!.buffer))).toBe(true);
  });
});
