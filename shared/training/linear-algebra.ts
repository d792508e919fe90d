/**
 * Dense kernels for the linear trainers: row-major `Float64Array` matrices, no allocation
 * beyond the result.
 */

/** Thrown by {@link choleskyFactor} when the matrix is not positive definite, or so close to singular that rounding decides. */
export class NotPositiveDefiniteError extends Error {
  /** Index of the first row (and column) whose pivot is not positive. */
  readonly pivot: number;

  constructor(pivot: number, value: number) {
    super(`matrix is not positive definite: pivot ${pivot} is ${value}`);
    this.name = 'NotPositiveDefiniteError';
    this.pivot = pivot;
  }
}

// A pivot this small relative to its diagonal entry is rounding noise, not information:
// an exactly singular matrix (collinear columns) often factors to a tiny positive pivot.
const PIVOT_RELATIVE_FLOOR = 16 * Number.EPSILON;

/**
 * Cholesky factor of a symmetric positive-definite `n × n` matrix: the lower-triangular `L`
 * with `A = L·Lᵀ`, row-major, zeros above the diagonal. Only the lower triangle of `a` is read;
 * `a` is not modified.
 * @throws NotPositiveDefiniteError when a pivot is not positive, or is below
 *   `16·n·ε` times its diagonal entry (numerically singular).
 */
export function choleskyFactor(a: Float64Array, n: number): Float64Array {
  checkSquare(a, n, 'a');
  const l = new Float64Array(n * n);
  const floor = PIVOT_RELATIVE_FLOOR * n;
  // Cholesky–Banachiewicz, row by row: each inner product runs over two contiguous row
  // prefixes of L, so the innermost loop walks memory in order.
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * n;
      let sum = a[rowI + j]!;
      for (let k = 0; k < j; k++) sum -= l[rowI + k]! * l[rowJ + k]!;
      if (j < i) {
        l[rowI + j] = sum / l[rowJ + j]!;
      } else {
        if (!(sum > 0 && sum > floor * a[rowI + i]!)) throw new NotPositiveDefiniteError(i, sum);
        l[rowI + i] = Math.sqrt(sum);
      }
    }
  }
  return l;
}

/**
 * Solves `L·Lᵀ·x = b` for `x`, given the factor from {@link choleskyFactor}. Returns a new array.
 */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  checkSquare(l, n, 'l');
  if (b.length !== n) throw new Error(`b has length ${b.length}, expected ${n}`);
  const x = Float64Array.from(b);
  // Forward substitution L·z = b reads row i of L left of the diagonal: contiguous.
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let sum = x[i]!;
    for (let k = 0; k < i; k++) sum -= l[row + k]! * x[k]!;
    x[i] = sum / l[row + i]!;
  }
  // Back substitution Lᵀ·x = z, column-oriented: once x[i] is final, subtract its share
  // from every earlier entry by walking row i of L (= column i of Lᵀ) in memory order.
  for (let i = n - 1; i >= 0; i--) {
    const row = i * n;
    const xi = x[i]! / l[row + i]!;
    x[i] = xi;
    for (let k = 0; k < i; k++) x[k] = x[k]! - l[row + k]! * xi;
  }
  return x;
}

/** Σ a[k]·b[k]; the vectors must have equal lengths. */
export function dot(a: Float64Array, b: Float64Array): number {
  const n = checkSameLength(a, b);
  let sum = 0;
  for (let k = 0; k < n; k++) sum += a[k]! * b[k]!;
  return sum;
}

/** `y ← y + alpha·x`, in place; the vectors must have equal lengths. */
export function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  const n = checkSameLength(x, y);
  for (let k = 0; k < n; k++) y[k] = y[k]! + alpha * x[k]!;
}

function checkSameLength(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new Error(`vector lengths differ: ${a.length} and ${b.length}`);
  return a.length;
}

function checkSquare(m: Float64Array, n: number, name: string): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`matrix order must be a non-negative integer, got ${n}`);
  if (m.length !== n * n) throw new Error(`${name} has length ${m.length}, expected ${n} × ${n} = ${n * n}`);
}

/**
 * Checks that `m` is a row-major `rows × cols` matrix of finite numbers.
 * @throws Error naming the matrix, the expected shape, or the first non-finite entry's row and column
 */
export function checkMatrix(m: Float32Array | Float64Array, rows: number, cols: number, name: string): void {
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0) throw new Error(`cols must be a non-negative integer, got ${cols}`);
  if (m.length !== rows * cols) {
    throw new Error(`${name} has length ${m.length}, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
  for (let k = 0; k < m.length; k++) {
    if (!Number.isFinite(m[k]!)) {
      const row = Math.floor(k / cols);
      throw new Error(`${name} is not finite at row ${row}, column ${k - row * cols}: ${m[k]}`);
    }
  }
}
