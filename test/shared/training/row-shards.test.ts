import { describe, expect, it } from 'vitest';
import { gradientScales } from '../../../shared/training/histograms';
import { RowShards, SHARDS, shardStart, type BinnedTree } from '../../../shared/training/row-shards';
import { mulberry32 } from '../../../shared/training/split';

const FEATURES = 6;
const WORDS = 2;

/**
 * Rows whose first three bins spell their row number (so a test can follow a row as it moves),
 * then three random bins, 255 (missing) now and then; binary targets.
 */
function shards(rows: number, threads: number): RowShards {
  const random = mulberry32(7);
  const bins = new Uint8Array(new SharedArrayBuffer(rows * WORDS * 4));
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * WORDS * 4;
    bins[o] = r & 255;
    bins[o + 1] = (r >> 8) & 255;
    bins[o + 2] = (r >> 16) & 255;
    for (let f = 3; f < FEATURES; f++) bins[o + f] = random() < 0.05 ? 255 : Math.floor(random() * 40);
    y[r] = random() < 0.3 + bins[o + 3]! / 100 ? 1 : 0;
  }
  return new RowShards({ rows, features: FEATURES, wordsPerRow: WORDS, outputs: 1, objective: 'binary', maxLeaves: 8, bins, y, baseScores: [-0.4] }, threads);
}

const bytesOf = (s: RowShards): Uint8Array => new Uint8Array(s.buffers.words.buffer, s.buffers.words.byteOffset, s.buffers.words.byteLength);
const rowAt = (bytes: Uint8Array, p: number): number => bytes[p * WORDS * 4]! | (bytes[p * WORDS * 4 + 1]! << 8) | (bytes[p * WORDS * 4 + 2]! << 16);
const rangesOf = (s: RowShards, slot: number): [number, number][] =>
  Array.from({ length: SHARDS }, (_, shard) => [s.buffers.leaves[(slot * SHARDS + shard) * 2]!, s.buffers.leaves[(slot * SHARDS + shard) * 2 + 1]!]);
const all = Int32Array.from({ length: FEATURES }, (_, f) => f);
const histogram = (): Float64Array => new Float64Array(FEATURES * 256 * 3);

/** One tree's worth of work on the shards: what training does, in order, with its results. */
function growTwoSplits(s: RowShards): { root: Float64Array; left: Float64Array; right: Float64Array; sums: { gradient: Float64Array; hessian: Float64Array }; loss: number } {
  const { maxGradient, maxHessian } = s.computeGradients();
  const root = histogram();
  const used = s.startTree(0, gradientScales(maxGradient[0]!, maxHessian[0]!), 99, all, root);
  const left = histogram();
  // Feature 3 below bin 12 goes left, missing values too; then the right side splits on category 7 of feature 4.
  s.split(0, 1, used, { feature: 3, bin: 11, categorical: false, missingLeft: true }, true, left);
  const right = histogram();
  const rightRows = rangesOf(s, 1).reduce((n, [a, b]) => n + b - a, 0);
  s.split(1, 2, rightRows, { feature: 4, bin: 7, categorical: true, missingLeft: false }, false, right);
  const sums = s.leafSums(0, 3, used);
  const tree: BinnedTree = {
    feature: [3, -1, 4, -1, -1],
    splitBin: [11, 0, 7, 0, 0],
    categorical: [0, 0, 1, 0, 0],
    left: [1, -1, 3, -1, -1],
    right: [2, -1, 4, -1, -1],
    missingLeft: [1, 0, 0, 0, 0],
    value: [0, 0.5, 0, -0.25, 0.125],
  };
  s.addLeafValues(0, [0.5, -0.25, 0.125], tree);
  return { root, left, right, sums, loss: s.loss() };
}

describe('RowShards', () => {
  it.each([1, 2])('splits a leaf so every row on each side goes that way, and loses no row (%i thread(s))', (threads) => {
    const rows = 30_001;
    const s = shards(rows, threads);
    try {
      expect(s.threads).toBe(threads);
      growTwoSplits(s);
      const bytes = bytesOf(s);
      const seen = new Uint8Array(rows);
      const side = (slot: number, goes: (p: number) => boolean): void => {
        for (const [a, b] of rangesOf(s, slot)) {
          for (let p = a; p < b; p++) {
            expect(goes(p)).toBe(true);
            seen[rowAt(bytes, p)]!++;
          }
        }
      };
      const f3 = (p: number): number => bytes[p * WORDS * 4 + 3]!;
      const f4 = (p: number): number => bytes[p * WORDS * 4 + 4]!;
      side(0, (p) => f3(p) === 255 || f3(p) <= 11);
      side(1, (p) => f3(p) !== 255 && f3(p) > 11 && f4(p) === 7);
      side(2, (p) => f3(p) !== 255 && f3(p) > 11 && f4(p) !== 7);
      expect(seen.every((count) => count === 1)).toBe(true);
      // A row stays in the shard it started in.
      for (let shard = 0; shard < SHARDS; shard++) {
        for (let p = shardStart(rows, shard); p < shardStart(rows, shard + 1); p++) {
          const row = rowAt(bytes, p);
          expect(row >= shardStart(rows, shard) && row < shardStart(rows, shard + 1)).toBe(true);
        }
      }
    } finally {
      s.close();
    }
  });

  it('builds the same histograms, leaf sums, scores and loss with the helper thread as without, and the right ones', () => {
    const rows = 40_000;
    const [one, two] = [1, 2].map((threads) => {
      const s = shards(rows, threads);
      try {
        return { ...growTwoSplits(s), threads: s.threads, raw: Float64Array.from(s.buffers.state) };
      } finally {
        s.close();
      }
    });
    expect(two!.threads).toBe(2);
    const same = (a: Float64Array, b: Float64Array): boolean => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    for (const key of ['root', 'left', 'right', 'raw'] as const) expect(same(one![key], two![key])).toBe(true);
    expect(same(one!.sums.gradient, two!.sums.gradient) && same(one!.sums.hessian, two!.sums.hessian)).toBe(true);
    expect(one!.loss).toBe(two!.loss);
    // Every row is counted once in the root, and the left child is the rows that went left.
    const count = (h: Float64Array, f: number): number => {
      let n = 0;
      for (let b = 0; b < 256; b++) n += h[(f * 256 + b) * 3 + 2]!;
      return n;
    };
    expect(count(one!.root, 0)).toBe(rows);
    let missingOrLow = 0;
    for (let b = 0; b <= 11; b++) missingOrLow += one!.root[(3 * 256 + b) * 3 + 2]!;
    missingOrLow += one!.root[(3 * 256 + 255) * 3 + 2]!;
    expect(count(one!.left, 5)).toBe(missingOrLow);
  });

  it('moves the sampled rows to the front of each shard and routes the others down the tree', () => {
    const rows = 20_000;
    const s = shards(rows, 2);
    try {
      const random = mulberry32(3);
      let marked = 0;
      for (let p = 0; p < rows; p++) marked += s.buffers.sampled[p] = random() < 0.6 ? 1 : 0;
      expect(s.sample()).toBe(marked);
      const { maxGradient, maxHessian } = s.computeGradients();
      const root = histogram();
      expect(s.startTree(0, gradientScales(maxGradient[0]!, maxHessian[0]!), 5, all, root)).toBe(marked);
      let counted = 0;
      for (let b = 0; b < 256; b++) counted += root[(3 * 256 + b) * 3 + 2]!;
      expect(counted).toBe(marked);
      // A one-leaf tree: sampled rows get the leaf's value by their range, the rest by routing.
      s.addLeafValues(0, [0.75], { feature: [-1], splitBin: [0], categorical: [0], left: [-1], right: [-1], missingLeft: [0], value: [0.75] });
      const stride = s.buffers.state.length / rows;
      for (let p = 0; p < rows; p++) {
        expect(s.buffers.state[p * stride + 1]).toBeCloseTo(-0.4 + 0.75, 12);
        // A binary classifier's e^−raw follows its raw score, by range or by routing alike.
        expect(s.buffers.state[p * stride + 2]).toBeCloseTo(Math.exp(0.4 - 0.75), 12);
      }
    } finally {
      s.close();
    }
  });

  it('refuses bins that are not whole rows of 32-bit words on shared memory', () => {
    const init = { rows: 4, features: 5, wordsPerRow: 2, outputs: 1, objective: 'binary' as const, maxLeaves: 4, y: [0, 1, 0, 1], baseScores: [0] };
    expect(() => new RowShards({ ...init, bins: new Uint8Array(32) }, 1)).toThrow(/SharedArrayBuffer/);
    expect(() => new RowShards({ ...init, bins: new Uint8Array(new SharedArrayBuffer(16)) }, 1)).toThrow(/4 rows of 2 32-bit words/);
  });
});
