import { describe, expect, it } from 'vitest';
// The product's seeded PRNG, so every run sees the same data.
import { mulberry32 } from '../../../shared/training/split';
import { NotPositiveDefiniteError } from '../../../shared/training/linear-algebra';
import { fitRidge, predictRidge } from '../../../shared/training/ridge-regression';


// The ridge solution computed another way: the (cols + 1) × (cols + 1) normal equations of the
// uncentred problem with an explicit intercept column, which the penalty leaves alone,
// solved by Gaussian elimination with partial pivoting.
function augmentedSolution(x: Float64Array, rows: number, cols: number, y: Float64Array, l2: number): number[] {
  const n = cols + 1;
  const feature = (i: number, j: number): number => (j < cols ? x[i * cols + j]! : 1);
  const m: number[][] = [];
  for (let a = 0; a < n; a++) {
    const row: number[] = [];
    for (let b = 0; b < n; b++) {
      let sum = a === b && a < cols ? l2 : 0;
      for (let i = 0; i < rows; i++) sum += feature(i, a) * feature(i, b);
      row.push(sum);
    }
    let rhs = 0;
    for (let i = 0; i < rows; i++) rhs += feature(i, a) * y[i]!;
    row.push(rhs);
    m.push(row);
  }
  for (let p = 0; p < n; p++) {
    let best = p;
    for (let r = p + 1; r < n; r++) if (Math.abs(m[r]![p]!) > Math.abs(m[best]![p]!)) best = r;
    [m[p], m[best]] = [m[best]!, m[p]!];
    for (let r = p + 1; r < n; r++) {
      const factor = m[r]![p]! / m[p]![p]!;
      for (let c = p; c <= n; c++) m[r]![c] = m[r]![c]! - factor * m[p]![c]!;
    }
  }
  const solution = new Array<number>(n).fill(0);
  for (let p = n - 1; p >= 0; p--) {
    let sum = m[p]![n]!;
    for (let c = p + 1; c < n; c++) sum -= m[p]![c]! * solution[c]!;
    solution[p] = sum / m[p]![p]!;
  }
  return solution; // coefficients, then the intercept
}

function randomDesign(seed: number, rows: number, cols: number, offset = 0): Float64Array {
  const random = mulberry32(seed);
  return new Float64Array(rows * cols).map((_, k) => random() * 4 - 2 + offset * ((k % cols) + 1));
}

describe('fitRidge', () => {
  it('matches the closed-form solution of the augmented normal equations', () => {
    const rows = 13;
    const cols = 3;
    const x = randomDesign(1, rows, cols, 5);
    const random = mulberry32(2);
    const y = new Float64Array(rows).map(() => random() * 10 - 5);
    for (const l2 of [0.5, 1, 40]) {
      const model = fitRidge(x, rows, cols, y, { l2 });
      const expected = augmentedSolution(x, rows, cols, y, l2);
      for (let j = 0; j < cols; j++) expect(model.coefficients[j]).toBeCloseTo(expected[j]!, 10);
      expect(model.intercept).toBeCloseTo(expected[cols]!, 9);
    }
  });

  it('uses l2 = 1 by default', () => {
    const rows = 10;
    const cols = 2;
    const x = randomDesign(3, rows, cols);
    const y = new Float64Array(rows).map((_, i) => i % 3);
    const expected = augmentedSolution(x, rows, cols, y, 1);
    const model = fitRidge(x, rows, cols, y);
    expect(model.coefficients[0]).toBeCloseTo(expected[0]!, 12);
    expect(model.coefficients[1]).toBeCloseTo(expected[1]!, 12);
  });

  it('recovers the exact coefficients of noiseless linear data as λ → 0', () => {
    const rows = 50;
    const cols = 4;
    const truth = [1.5, -2, 0.25, 3];
    const intercept = -7;
    const x = randomDesign(4, rows, cols, 3);
    const y = new Float64Array(rows).map((_, i) => truth.reduce((sum, w, j) => sum + w * x[i * cols + j]!, intercept));
    for (const l2 of [0, 1e-10]) {
      const model = fitRidge(x, rows, cols, y, { l2 });
      for (let j = 0; j < cols; j++) expect(model.coefficients[j]).toBeCloseTo(truth[j]!, 8);
      expect(model.intercept).toBeCloseTo(intercept, 7);
    }
  });

  it('shrinks the coefficients, but never the intercept, as λ grows', () => {
    const rows = 30;
    const cols = 2;
    const x = randomDesign(5, rows, cols);
    const y = new Float64Array(rows).map((_, i) => 100 + 2 * x[i * cols]! - x[i * cols + 1]!);
    const model = fitRidge(x, rows, cols, y, { l2: 1e9 });
    const meanY = y.reduce((a, b) => a + b, 0) / rows;
    expect(Math.abs(model.coefficients[0]!)).toBeLessThan(1e-5);
    expect(Math.abs(model.coefficients[1]!)).toBeLessThan(1e-5);
    expect(model.intercept).toBeCloseTo(meanY, 4);
  });

  it('moves only the intercept when y is shifted by a constant', () => {
    const rows = 21;
    const cols = 3;
    const x = randomDesign(6, rows, cols);
    const random = mulberry32(7);
    const y = new Float64Array(rows).map(() => random());
    const shifted = y.map((v) => v + 1000);
    const a = fitRidge(x, rows, cols, y, { l2: 3 });
    const b = fitRidge(x, rows, cols, shifted, { l2: 3 });
    for (let j = 0; j < cols; j++) expect(b.coefficients[j]).toBeCloseTo(a.coefficients[j]!, 10);
    expect(b.intercept - a.intercept).toBeCloseTo(1000, 9);
  });

  it('handles row counts that are not a multiple of four the same as padded ones', () => {
    for (const rows of [1, 2, 3, 5, 6, 7]) {
      const cols = 2;
      const x = randomDesign(8 + rows, rows, cols);
      const y = new Float64Array(rows).map((_, i) => i * 0.5 - 1);
      const model = fitRidge(x, rows, cols, y, { l2: 0.3 });
      const expected = augmentedSolution(x, rows, cols, y, 0.3);
      expect(model.coefficients[0]).toBeCloseTo(expected[0]!, 10);
      expect(model.coefficients[1]).toBeCloseTo(expected[1]!, 10);
      expect(model.intercept).toBeCloseTo(expected[cols]!, 10);
    }
  });

  it('fits an intercept-only model when there are no columns', () => {
    const model = fitRidge(new Float64Array(0), 4, 0, new Float64Array([1, 2, 3, 6]));
    expect(model.coefficients.length).toBe(0);
    expect(model.intercept).toBe(3);
  });

  it('explains collinear columns at λ = 0, and fits them with λ > 0', () => {
    const rows = 20;
    const cols = 3;
    const x = randomDesign(9, rows, cols);
    for (let i = 0; i < rows; i++) x[i * cols + 2] = 2 * x[i * cols]! - x[i * cols + 1]!;
    const y = new Float64Array(rows).map((_, i) => x[i * cols]!);
    let caught: unknown;
    try {
      fitRidge(x, rows, cols, y, { l2: 0 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toMatch(
      /l2 = 0 has no unique solution: column 2 is constant or a linear combination of earlier columns/,
    );
    expect((caught as Error).cause).toBeInstanceOf(NotPositiveDefiniteError);
    const model = fitRidge(x, rows, cols, y, { l2: 1e-3 });
    expect(model.coefficients.every(Number.isFinite)).toBe(true);
  });

  it('explains a constant column at λ = 0', () => {
    const x = new Float64Array([1, 5, 2, 5, 3, 5, 4, 5]);
    expect(() => fitRidge(x, 4, 2, new Float64Array([1, 2, 3, 4]), { l2: 0 })).toThrow(/column 1 is constant/);
  });

  describe('rejects bad input with a message that says what is wrong', () => {
    const x = randomDesign(10, 4, 2);
    const y = new Float64Array([1, 2, 3, 4]);

    it('x of the wrong length', () => {
      expect(() => fitRidge(x, 4, 3, y)).toThrow(/x has length 8, expected rows × cols = 4 × 3 = 12/);
    });

    it('y of the wrong length', () => {
      expect(() => fitRidge(x, 4, 2, y.subarray(1))).toThrow(/y has length 3, expected one value per row \(4\)/);
    });

    it('non-finite values', () => {
      const bad = Float64Array.from(x);
      bad[3] = Number.NaN;
      expect(() => fitRidge(bad, 4, 2, y)).toThrow(/x is not finite at row 1, column 1/);
      expect(() => fitRidge(x, 4, 2, new Float64Array([1, 2, Infinity, 4]))).toThrow(/y is not finite at row 2/);
    });

    it('no rows', () => {
      expect(() => fitRidge(new Float64Array(0), 0, 2, new Float64Array(0))).toThrow(/at least one row/);
    });

    it('a negative penalty', () => {
      expect(() => fitRidge(x, 4, 2, y, { l2: -0.1 })).toThrow(/l2 must be a finite number ≥ 0, got -0.1/);
    });
  });
});

describe('predictRidge', () => {
  it('returns x·w + b for each row', () => {
    const model = { cols: 2, coefficients: new Float64Array([2, -1]), intercept: 0.5 };
    const predictions = predictRidge(model, new Float64Array([1, 1, 3, 0, 0, 4]), 3);
    expect(Array.from(predictions)).toEqual([1.5, 6.5, -3.5]);
  });

  it('reproduces the fitted values of a noiseless fit', () => {
    const rows = 9;
    const cols = 2;
    const x = randomDesign(11, rows, cols);
    const y = new Float64Array(rows).map((_, i) => 4 - 3 * x[i * cols]! + 0.5 * x[i * cols + 1]!);
    const predictions = predictRidge(fitRidge(x, rows, cols, y, { l2: 0 }), x, rows);
    for (let i = 0; i < rows; i++) expect(predictions[i]).toBeCloseTo(y[i]!, 10);
  });

  it('rejects x that does not match the model', () => {
    const model = { cols: 2, coefficients: new Float64Array([2, -1]), intercept: 0 };
    expect(() => predictRidge(model, new Float64Array(5), 3)).toThrow(/x has length 5, expected rows × cols = 3 × 2 = 6/);
  });
});
