import type { DesignValues } from './design-matrix';
/**
 * Ridge regression with an unpenalised intercept, solved exactly through the normal equations.
 */
import { checkMatrix, choleskyFactor, choleskySolve, NotPositiveDefiniteError } from './linear-algebra';

export interface RidgeOptions {
  /**
   * L2 penalty λ: minimise ‖y − Xw − b‖² + λ‖w‖².
   * @default 1
   */
  l2?: number;
}

export interface RidgeModel {
  cols: number;
  coefficients: Float64Array;
  intercept: number;
}

/**
 * Fits ridge regression: centres X and y (so the intercept is not penalised), then solves
 * (XcᵀXc + λI)·w = Xcᵀyc by Cholesky; b = ȳ − x̄·w.
 *
 * @param x design matrix, `rows × cols`, row-major, finite; at least one row
 * @throws Error for a shape mismatch, a non-finite entry or an invalid `l2`; and, when
 *   XcᵀXc + λI is not positive definite (λ = 0 with a constant column or collinear columns,
 *   or fewer rows than columns), an Error naming the column, with the
 *   {@link NotPositiveDefiniteError} as its `cause`
 */
export function fitRidge(
  x: DesignValues,
  rows: number,
  cols: number,
  y: Float64Array,
  options: RidgeOptions = {},
): RidgeModel {
  checkMatrix(x, rows, cols, 'x');
  if (rows === 0) throw new Error('ridge regression needs at least one row');
  if (y.length !== rows) throw new Error(`y has length ${y.length}, expected one value per row (${rows})`);
  for (let i = 0; i < rows; i++) {
    if (!Number.isFinite(y[i]!)) throw new Error(`y is not finite at row ${i}: ${y[i]}`);
  }
  const l2 = options.l2 ?? 1;
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new Error(`l2 must be a finite number ≥ 0, got ${l2}`);

  // Means first: centring each row before it enters the Gram matrix avoids the cancellation
  // of forming XᵀX − n·x̄x̄ᵀ when the means are large against the spread.
  const means = new Float64Array(cols);
  let meanY = 0;
  for (let i = 0, rowStart = 0; i < rows; i++, rowStart += cols) {
    for (let j = 0; j < cols; j++) means[j] = means[j]! + x[rowStart + j]!;
    meanY += y[i]!;
  }
  for (let j = 0; j < cols; j++) means[j] = means[j]! / rows;
  meanY /= rows;

  const gram = new Float64Array(cols * cols);
  const xty = new Float64Array(cols);
  const block = new Float64Array(4 * cols);
  const c1 = cols;
  const c2 = 2 * cols;
  const c3 = 3 * cols;
  // One pass over the rows, four at a time: the centred rows go into a small scratch block,
  // then each upper-triangle entry of the Gram matrix (the lower half is mirrored at the end)
  // takes all four products in one update, a quarter of the loads and stores of row-by-row.
  // A last partial block is padded with zero rows, which add exactly nothing.
  for (let start = 0; start < rows; start += 4) {
    for (let b = 0, offset = 0; b < 4; b++, offset += cols) {
      const i = start + b;
      if (i >= rows) {
        block.fill(0, offset, offset + cols);
        continue;
      }
      const rowStart = i * cols;
      const yi = y[i]! - meanY;
      for (let j = 0; j < cols; j++) {
        const v = x[rowStart + j]! - means[j]!;
        block[offset + j] = v;
        xty[j] = xty[j]! + v * yi;
      }
    }
    for (let j = 0; j < cols; j++) {
      const a0 = block[j]!;
      const a1 = block[c1 + j]!;
      const a2 = block[c2 + j]!;
      const a3 = block[c3 + j]!;
      const row = j * cols;
      for (let k = j; k < cols; k++) {
        gram[row + k] = gram[row + k]! + (a0 * block[k]! + a1 * block[c1 + k]!) + (a2 * block[c2 + k]! + a3 * block[c3 + k]!);
      }
    }
  }
  for (let j = 0; j < cols; j++) {
    gram[j * cols + j] = gram[j * cols + j]! + l2;
    for (let k = j + 1; k < cols; k++) gram[k * cols + j] = gram[j * cols + k]!;
  }

  let factor: Float64Array;
  try {
    factor = choleskyFactor(gram, cols);
  } catch (error) {
    if (!(error instanceof NotPositiveDefiniteError)) throw error;
    throw new Error(
      `ridge regression with l2 = ${l2} has no unique solution: column ${error.pivot} is constant or a ` +
        `linear combination of earlier columns (with ${rows} rows); use l2 > 0 or drop the column`,
      { cause: error },
    );
  }
  const coefficients = choleskySolve(factor, cols, xty);
  let intercept = meanY;
  for (let j = 0; j < cols; j++) intercept -= means[j]! * coefficients[j]!;
  return { cols, coefficients, intercept };
}

/**
 * Predictions `x_i · coefficients + intercept`, one per row.
 * @throws Error when `x` is not `rows × model.cols` or the model's coefficients do not match `cols`
 */
export function predictRidge(model: RidgeModel, x: DesignValues, rows: number): Float64Array {
  const { cols, coefficients, intercept } = model;
  if (coefficients.length !== cols) throw new Error(`model has ${coefficients.length} coefficients, expected ${cols}`);
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`rows must be a non-negative integer, got ${rows}`);
  if (x.length !== rows * cols) {
    throw new Error(`x has length ${x.length}, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
  const predictions = new Float64Array(rows);
  // Row-major: each prediction is a dot product over one contiguous row.
  for (let i = 0, rowStart = 0; i < rows; i++, rowStart += cols) {
    let sum = intercept;
    for (let j = 0; j < cols; j++) sum += coefficients[j]! * x[rowStart + j]!;
    predictions[i] = sum;
  }
  return predictions;
}
