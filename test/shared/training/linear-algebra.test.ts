import { describe, expect, it } from 'vitest';
// The product's seeded PRNG, so every run sees the same data.
import { mulberry32 } from '../../../shared/training/split';
import {
  axpy,
  checkMatrix,
  choleskyFactor,
  choleskySolve,
  dot,
  NotPositiveDefiniteError,
} from '../../../shared/training/linear-algebra';


function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += a[i * n + k]! * b[k * n + j]!;
      out[i * n + j] = sum;
    }
  }
  return out;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = a[i * n + j]!;
  return out;
}

describe('choleskyFactor', () => {
  // The textbook example: every step is exact in binary floating point.
  const known = new Float64Array([4, 12, -16, 12, 37, -43, -16, -43, 98]);

  it('factors a known matrix exactly', () => {
    expect(Array.from(choleskyFactor(known, 3))).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  it('reads only the lower triangle and leaves the input unchanged', () => {
    const garbageAbove = new Float64Array([4, 999, -999, 12, 37, 1e9, -16, -43, 98]);
    const before = Array.from(garbageAbove);
    expect(Array.from(choleskyFactor(garbageAbove, 3))).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
    expect(Array.from(garbageAbove)).toEqual(before);
  });

  it('reconstructs a random positive-definite matrix as L·Lᵀ', () => {
    const n = 8;
    const random = mulberry32(7);
    const b = new Float64Array(n * n).map(() => random() * 2 - 1);
    const a = multiply(transpose(b, n), b, n);
    for (let i = 0; i < n; i++) a[i * n + i] = a[i * n + i]! + 0.5;
    const l = choleskyFactor(a, n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(l[i * n + j]).toBe(0);
    const product = multiply(l, transpose(l, n), n);
    for (let k = 0; k < n * n; k++) expect(product[k]).toBeCloseTo(a[k]!, 12);
  });

  it('rejects an indefinite matrix, naming the failing pivot', () => {
    const indefinite = new Float64Array([1, 2, 2, 1]);
    expect(() => choleskyFactor(indefinite, 2)).toThrow(NotPositiveDefiniteError);
    expect(() => choleskyFactor(indefinite, 2)).toThrow(/pivot 1 is -3/);
  });

  it('rejects an exactly singular matrix', () => {
    let caught: unknown;
    try {
      choleskyFactor(new Float64Array([2, 0, 0, 0, 1, 1, 0, 1, 1]), 3);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(NotPositiveDefiniteError);
    expect((caught as NotPositiveDefiniteError).pivot).toBe(2);
  });

  it('rejects a Gram matrix that is singular but factors to a rounding-sized pivot', () => {
    // Columns u, v and 0.1·u + 0.3·v: singular, but 0.1 and 0.3 are inexact in binary. With this
    // seed a plain Cholesky leaves pivot 2 at about +7e-16 of its diagonal, not at or below 0.
    const rows = 50;
    const cols = 3;
    const random = mulberry32(1);
    const x = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const u = random();
      const v = random();
      x.set([u, v, 0.1 * u + 0.3 * v], i * cols);
    }
    const gram = new Float64Array(cols * cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        for (let k = 0; k < cols; k++) gram[j * cols + k] = gram[j * cols + k]! + x[i * cols + j]! * x[i * cols + k]!;
      }
    }
    expect(() => choleskyFactor(gram, cols)).toThrow(/pivot 2/);
  });

  it('rejects a buffer that is not n × n', () => {
    expect(() => choleskyFactor(new Float64Array(5), 2)).toThrow(/a has length 5, expected 2 × 2 = 4/);
  });
});

describe('choleskySolve', () => {
  it('solves A·x = b through the factor', () => {
    const a = new Float64Array([4, 12, -16, 12, 37, -43, -16, -43, 98]);
    // b = A·[1, 2, 3]
    const x = choleskySolve(choleskyFactor(a, 3), 3, new Float64Array([-20, -43, 192]));
    expect(x[0]).toBeCloseTo(1, 12);
    expect(x[1]).toBeCloseTo(2, 12);
    expect(x[2]).toBeCloseTo(3, 12);
  });

  it('solves a random system to a small residual without touching b', () => {
    const n = 12;
    const random = mulberry32(3);
    const m = new Float64Array(n * n).map(() => random() - 0.5);
    const a = multiply(transpose(m, n), m, n);
    for (let i = 0; i < n; i++) a[i * n + i] = a[i * n + i]! + 1;
    const b = new Float64Array(n).map(() => random() * 10 - 5);
    const bBefore = Array.from(b);
    const x = choleskySolve(choleskyFactor(a, n), n, b);
    expect(Array.from(b)).toEqual(bBefore);
    for (let i = 0; i < n; i++) {
      let ax = 0;
      for (let k = 0; k < n; k++) ax += a[i * n + k]! * x[k]!;
      expect(Math.abs(ax - b[i]!)).toBeLessThan(1e-12);
    }
  });

  it('rejects a right-hand side of the wrong length', () => {
    expect(() => choleskySolve(new Float64Array([1, 0, 0, 1]), 2, new Float64Array(3))).toThrow(
      /b has length 3, expected 2/,
    );
  });
});

describe('vector kernels', () => {
  it('computes dot products and axpy', () => {
    const a = new Float64Array([1, 2, 3]);
    const b = new Float64Array([4, -5, 6]);
    expect(dot(a, b)).toBe(12);
    axpy(2, a, b);
    expect(Array.from(b)).toEqual([6, -1, 12]);
  });

  it('rejects vectors of different lengths', () => {
    expect(() => dot(new Float64Array(2), new Float64Array(3))).toThrow(/lengths differ: 2 and 3/);
    expect(() => axpy(1, new Float64Array(2), new Float64Array(3))).toThrow(/lengths differ/);
  });
});

describe('checkMatrix', () => {
  it('accepts a matrix of the stated shape', () => {
    expect(() => checkMatrix(new Float64Array(6), 2, 3, 'x')).not.toThrow();
  });

  it('names the expected shape when the length is wrong', () => {
    expect(() => checkMatrix(new Float64Array(5), 2, 3, 'x')).toThrow(/x has length 5, expected rows × cols = 2 × 3 = 6/);
  });

  it('names the row and column of a non-finite entry', () => {
    const m = new Float64Array(6);
    m[5] = Number.NaN;
    expect(() => checkMatrix(m, 2, 3, 'x')).toThrow(/x is not finite at row 1, column 2: NaN/);
  });

  it('rejects negative or fractional dimensions', () => {
    expect(() => checkMatrix(new Float64Array(0), -1, 0, 'x')).toThrow(/rows must be a non-negative integer/);
    expect(() => checkMatrix(new Float64Array(3), 2, 1.5, 'x')).toThrow(/cols must be a non-negative integer/);
  });
});
