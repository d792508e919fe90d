import type { DesignValues } from './design-matrix';
/**
 * Multinomial (softmax) logistic regression with an L2 penalty, fitted by L-BFGS on a
 * prepared design matrix. Deterministic: no randomness, fixed evaluation order.
 */
import { axpy, checkMatrix, dot } from './linear-algebra';

export interface LogisticRegressionOptions {
  /**
   * L2 penalty λ on the weights (not the intercepts): objective = Σ_i logloss_i + (λ/2)·‖W‖².
   * @default 1 (scikit-learn's C = 1)
   */
  l2?: number;
  /** @default 200 */
  maxIterations?: number;
  /**
   * Stop when the gradient's max-norm falls below this times the number of rows.
   * @default 1e-6
   */
  tolerance?: number;
  /**
   * Called once per iteration with the iteration number (from 1) and the objective;
   * return `false` to stop (the model so far is returned, with `converged: false` unless it already was).
   */
  onIteration?: (iteration: number, loss: number) => boolean | void;
}

export interface LogisticRegressionModel {
  classes: number;
  cols: number;
  /** `classes × cols`, row-major: one row per class, also for two classes. */
  coefficients: Float64Array;
  /** One per class, centred to sum 0 (softmax is unchanged by a common shift). */
  intercepts: Float64Array;
  /** L-BFGS iterations taken. */
  iterations: number;
  /** Whether the gradient's max-norm reached `tolerance × rows`. */
  converged: boolean;
  /** The objective at the returned parameters. */
  loss: number;
}

const HISTORY = 10;
const MAX_EVALUATIONS_PER_SEARCH = 20;
const ARMIJO = 1e-4;
const CURVATURE = 0.9;
// Objective values this close (relative) are within the rounding of a sum over many rows.
const ROUNDING_SLACK = 1e-10;

/**
 * Fits multinomial logistic regression: minimises Σ_i −log softmax(W·x_i + b)[y_i] + (λ/2)·‖W‖²
 * by L-BFGS (memory 10) with a strong-Wolfe line search, starting from W = 0 and the
 * intercept-only optimum.
 *
 * @param x design matrix, `rows × cols`, row-major, finite
 * @param y class index of each row, `0 .. classes − 1`
 * @param classes at least 2, and every class must have a row
 * @throws Error for a shape mismatch, a non-finite entry, a label out of range, a class
 *   with no rows, or an invalid option
 */
export function fitLogisticRegression(
  x: DesignValues,
  rows: number,
  cols: number,
  y: Int32Array,
  classes: number,
  options: LogisticRegressionOptions = {},
): LogisticRegressionModel {
  checkMatrix(x, rows, cols, 'x');
  const counts = countClasses(y, rows, classes);
  for (let c = 0; c < classes; c++) {
    if (counts[c] === 0) {
      throw new Error(`class ${c} has no rows: every class index in 0..${classes - 1} needs at least one row`);
    }
  }
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 200;
  const tolerance = options.tolerance ?? 1e-6;
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new Error(`l2 must be a finite number ≥ 0, got ${l2}`);
  if (!(Number.isInteger(maxIterations) && maxIterations >= 0)) {
    throw new Error(`maxIterations must be an integer ≥ 0, got ${maxIterations}`);
  }
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new Error(`tolerance must be a finite number ≥ 0, got ${tolerance}`);
  }

  const weightCount = classes * cols;
  const n = weightCount + classes;
  const means = columnMeans(x, rows, cols);
  const scores = new Float64Array(classes);
  const rawParams = new Float64Array(n);
  const rawGradient = new Float64Array(n);
  // The solver works in centred coordinates, z = b′ + W·(x − x̄): the same model (the unpenalised
  // intercept absorbs the shift), but a column far from zero mean (a one-hot block, data that
  // was not standardised) no longer ties its weights to the intercepts, which slows L-BFGS badly.
  const evaluate: Objective = (params, gradient) => {
    toRawParams(params, means, classes, rawParams);
    const loss = objectiveAndGradient(x, rows, cols, y, classes, l2, rawParams, rawGradient, scores);
    gradient.set(rawGradient);
    for (let c = 0, w = 0; c < classes; c++, w += cols) {
      const interceptGradient = rawGradient[weightCount + c]!;
      for (let j = 0; j < cols; j++) gradient[w + j] = gradient[w + j]! - interceptGradient * means[j]!;
    }
    return loss;
  };

  let theta = new Float64Array(n);
  // Log class frequencies are the intercept-only optimum: the intercepts' gradient is 0 at W = 0.
  let meanLog = 0;
  for (let c = 0; c < classes; c++) meanLog += Math.log(counts[c]!);
  meanLog /= classes;
  for (let c = 0; c < classes; c++) theta[weightCount + c] = Math.log(counts[c]!) - meanLog;

  let gradient = new Float64Array(n);
  let loss = evaluate(theta, gradient);
  let trial = new Float64Array(n);
  let trialGradient = new Float64Array(n);
  const direction = new Float64Array(n);
  const history = new CurvatureHistory(n);
  const limit = tolerance * rows;
  let converged = rawGradientMaxAbs(gradient, means, classes) <= limit;
  let iterations = 0;

  while (!converged && iterations < maxIterations) {
    history.direction(gradient, direction);
    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Rounding can spoil the quasi-Newton direction; steepest descent always descends.
      history.clear();
      history.direction(gradient, direction);
      slope = dot(gradient, direction);
    }
    // L-BFGS steps are scaled to the curvature, so 1 is the natural first trial; a bare
    // gradient step is not, so it starts at unit length.
    const firstStep = history.size === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    const trialLoss = lineSearch(evaluate, theta, loss, direction, slope, firstStep, trial, trialGradient);
    if (Number.isNaN(trialLoss)) {
      if (history.size === 0) break; // not even steepest descent finds a decrease: rounding level
      history.clear();
      continue;
    }
    history.record(theta, trial, gradient, trialGradient);
    const previous = theta;
    theta = trial;
    trial = previous;
    const previousGradient = gradient;
    gradient = trialGradient;
    trialGradient = previousGradient;
    loss = trialLoss;
    iterations++;
    converged = rawGradientMaxAbs(gradient, means, classes) <= limit;
    if (options.onIteration?.(iterations, loss) === false) break;
  }

  toRawParams(theta, means, classes, rawParams);
  const coefficients = rawParams.slice(0, weightCount);
  const intercepts = rawParams.slice(weightCount);
  // Softmax is over-parameterised by a common shift of the intercepts; pin it to sum 0.
  let meanIntercept = 0;
  for (let c = 0; c < classes; c++) meanIntercept += intercepts[c]!;
  meanIntercept /= classes;
  for (let c = 0; c < classes; c++) intercepts[c] = intercepts[c]! - meanIntercept;
  return { classes, cols, coefficients, intercepts, iterations, converged, loss };
}

/**
 * Class probabilities, `rows × classes` row-major: the softmax of `coefficients · x_i + intercepts`.
 * @throws Error when `x` is not `rows × model.cols` or the model's arrays do not match its shape
 */
export function predictProbabilities(model: LogisticRegressionModel, x: DesignValues, rows: number): Float64Array {
  const { classes, cols, coefficients, intercepts } = model;
  checkModel(model);
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`rows must be a non-negative integer, got ${rows}`);
  if (x.length !== rows * cols) {
    throw new Error(`x has length ${x.length}, expected rows × cols = ${rows} × ${cols} = ${rows * cols}`);
  }
  const probabilities = new Float64Array(rows * classes);
  // Row-major in, row-major out: each row's features are contiguous and its scores are
  // written straight into its slice of the output, so no scratch per row.
  for (let i = 0, rowStart = 0, out = 0; i < rows; i++, rowStart += cols, out += classes) {
    let max = -Infinity;
    for (let c = 0, w = 0; c < classes; c++, w += cols) {
      let z = intercepts[c]!;
      for (let j = 0; j < cols; j++) z += coefficients[w + j]! * x[rowStart + j]!;
      probabilities[out + c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(probabilities[out + c]! - max);
      probabilities[out + c] = e;
      sum += e;
    }
    const inverse = 1 / sum;
    for (let c = 0; c < classes; c++) probabilities[out + c] = probabilities[out + c]! * inverse;
  }
  return probabilities;
}

/**
 * The objective {@link fitLogisticRegression} minimises, Σ_i logloss_i + (λ/2)·‖W‖², and its
 * gradient, in one pass over the rows. `params` holds the coefficients (`classes × cols`,
 * row-major) followed by the `classes` intercepts; `gradient` has the same layout and is overwritten.
 * @throws Error for a shape mismatch or a label out of range
 */
export function logisticObjective(
  x: DesignValues,
  rows: number,
  cols: number,
  y: Int32Array,
  classes: number,
  l2: number,
  params: Float64Array,
  gradient: Float64Array,
): number {
  checkMatrix(x, rows, cols, 'x');
  countClasses(y, rows, classes);
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new Error(`l2 must be a finite number ≥ 0, got ${l2}`);
  const n = classes * (cols + 1);
  if (params.length !== n) throw new Error(`params has length ${params.length}, expected classes × (cols + 1) = ${n}`);
  if (gradient.length !== n) throw new Error(`gradient has length ${gradient.length}, expected ${n}`);
  return objectiveAndGradient(x, rows, cols, y, classes, l2, params, gradient, new Float64Array(classes));
}

type Objective = (params: Float64Array, gradient: Float64Array) => number;

function objectiveAndGradient(
  x: DesignValues,
  rows: number,
  cols: number,
  y: Int32Array,
  classes: number,
  l2: number,
  params: Float64Array,
  gradient: Float64Array,
  scores: Float64Array,
): number {
  if (classes === 2) return binaryObjectiveAndGradient(x, rows, cols, y, l2, params, gradient);
  const weightCount = classes * cols;
  gradient.fill(0);
  let loss = 0;
  // One streaming pass: row i's features are contiguous, so each row is read from memory once
  // and reused from cache for every class's score and then every class's gradient row.
  for (let i = 0, rowStart = 0; i < rows; i++, rowStart += cols) {
    let max = -Infinity;
    for (let c = 0, w = 0; c < classes; c++, w += cols) {
      const z = params[weightCount + c]! + rowDot(params, w, x, rowStart, cols);
      scores[c] = z;
      if (z > max) max = z;
    }
    const label = y[i]!;
    const labelScore = scores[label]!;
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(scores[c]! - max);
      scores[c] = e;
      sum += e;
    }
    // log Σ exp z − z_y, shifted by the max so no exp overflows and sum ≥ 1.
    loss += max - labelScore + Math.log(sum);
    const inverse = 1 / sum;
    for (let c = 0, w = 0; c < classes; c++, w += cols) {
      const residual = scores[c]! * inverse - (c === label ? 1 : 0);
      gradient[weightCount + c] = gradient[weightCount + c]! + residual;
      addScaledRow(residual, x, rowStart, gradient, w, cols);
    }
  }
  return loss + addRidgePenalty(params, gradient, weightCount, l2);
}

// Two classes: the loss depends only on the score difference (W₁ − W₀)·x + (b₁ − b₀), and class 0's
// residual is minus class 1's, so each row needs one dot product and one scaled add instead of two.
function binaryObjectiveAndGradient(
  x: DesignValues,
  rows: number,
  cols: number,
  y: Int32Array,
  l2: number,
  params: Float64Array,
  gradient: Float64Array,
): number {
  const weightCount = 2 * cols;
  const difference = new Float64Array(cols);
  for (let j = 0; j < cols; j++) difference[j] = params[cols + j]! - params[j]!;
  const interceptDifference = params[weightCount + 1]! - params[weightCount]!;
  gradient.fill(0);
  let loss = 0;
  let interceptGradient = 0;
  for (let i = 0, rowStart = 0; i < rows; i++, rowStart += cols) {
    const d = interceptDifference + rowDot(difference, 0, x, rowStart, cols);
    const label = y[i]!;
    // log(1 + e^−m), m the margin of the true class, from one exponential of −|d| that also gives p₁.
    const e = Math.exp(-Math.abs(d));
    const margin = label === 1 ? d : -d;
    loss += Math.log1p(e) + (margin < 0 ? -margin : 0);
    const p1 = d >= 0 ? 1 / (1 + e) : e / (1 + e);
    const residual = p1 - label;
    interceptGradient += residual;
    addScaledRow(residual, x, rowStart, gradient, cols, cols);
  }
  gradient[weightCount] = -interceptGradient;
  gradient[weightCount + 1] = interceptGradient;
  for (let j = 0; j < cols; j++) gradient[j] = -gradient[cols + j]!;
  return loss + addRidgePenalty(params, gradient, weightCount, l2);
}

// Adds the L2 penalty's gradient to the weights' (not the intercepts') and returns the penalty.
function addRidgePenalty(params: Float64Array, gradient: Float64Array, weightCount: number, l2: number): number {
  let squaredNorm = 0;
  for (let k = 0; k < weightCount; k++) {
    const w = params[k]!;
    squaredNorm += w * w;
    gradient[k] = gradient[k]! + l2 * w;
  }
  return 0.5 * l2 * squaredNorm;
}

// Σ_j a[aStart + j]·b[bStart + j]. Four partial sums, because one running sum would wait on
// the latency of every addition; the fixed order keeps the result deterministic.
function rowDot(a: Float64Array, aStart: number, b: DesignValues, bStart: number, length: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (const unrolled = length - (length & 3); j < unrolled; j += 4) {
    s0 += a[aStart + j]! * b[bStart + j]!;
    s1 += a[aStart + j + 1]! * b[bStart + j + 1]!;
    s2 += a[aStart + j + 2]! * b[bStart + j + 2]!;
    s3 += a[aStart + j + 3]! * b[bStart + j + 3]!;
  }
  for (; j < length; j++) s0 += a[aStart + j]! * b[bStart + j]!;
  return s0 + s1 + (s2 + s3);
}

// out[outStart + j] += scale·x[xStart + j], unrolled by four to cut loop overhead in the hot pass.
function addScaledRow(scale: number, x: DesignValues, xStart: number, out: Float64Array, outStart: number, length: number): void {
  let j = 0;
  for (const unrolled = length - (length & 3); j < unrolled; j += 4) {
    out[outStart + j] = out[outStart + j]! + scale * x[xStart + j]!;
    out[outStart + j + 1] = out[outStart + j + 1]! + scale * x[xStart + j + 1]!;
    out[outStart + j + 2] = out[outStart + j + 2]! + scale * x[xStart + j + 2]!;
    out[outStart + j + 3] = out[outStart + j + 3]! + scale * x[xStart + j + 3]!;
  }
  for (; j < length; j++) out[outStart + j] = out[outStart + j]! + scale * x[xStart + j]!;
}

// Finds a step along `direction` that meets the strong Wolfe conditions (sufficient decrease,
// or its approximate form at rounding level, and |slope| ≤ 0.9·|initial slope|), leaves that
// point and its gradient in `trial` and `trialGradient`, and returns its objective; NaN if the
// evaluation budget runs out or the bracket collapses.
function lineSearch(
  evaluate: Objective,
  start: Float64Array,
  startLoss: number,
  direction: Float64Array,
  startSlope: number,
  firstStep: number,
  trial: Float64Array,
  trialGradient: Float64Array,
): number {
  const lossSlack = ROUNDING_SLACK * Math.abs(startLoss);
  const curvatureLimit = -CURVATURE * startSlope;
  // The objective is convex, so its slope along the line grows with the step: a step with
  // positive slope or too little decrease bounds the search from above, a still-steep step
  // bounds it from below, and the bracket only ever shrinks.
  let lowStep = 0;
  let lowLoss = startLoss;
  let lowSlope = startSlope;
  let highStep = Infinity;
  let highLoss = NaN;
  let highSlope = NaN;
  let step = firstStep;
  for (let evaluation = 0; evaluation < MAX_EVALUATIONS_PER_SEARCH; evaluation++) {
    for (let k = 0; k < trial.length; k++) trial[k] = start[k]! + step * direction[k]!;
    const loss = evaluate(trial, trialGradient);
    const slope = dot(trialGradient, direction);
    const armijo = loss <= startLoss + ARMIJO * step * startSlope;
    // Hager & Zhang's approximate Wolfe test: once the decrease is within the rounding of the
    // objective, the slope (exact for a quadratic) decides whether the step went too far.
    const approximate = loss <= startLoss + lossSlack && slope <= (2 * ARMIJO - 1) * startSlope;
    if (armijo || approximate) {
      if (Math.abs(slope) <= curvatureLimit) return loss;
      if (slope > 0) {
        highStep = step;
        highLoss = loss;
        highSlope = slope;
      } else {
        lowStep = step;
        lowLoss = loss;
        lowSlope = slope;
      }
    } else {
      highStep = step;
      highLoss = loss;
      highSlope = slope;
    }
    if (highStep === Infinity) {
      step *= 4;
      continue;
    }
    const width = highStep - lowStep;
    if (!(width > Number.EPSILON * highStep)) return NaN;
    let next: number;
    if (highSlope >= 0) {
      // The slope changes sign inside the bracket: its secant root is the minimiser of the quadratic model.
      next = lowStep - (lowSlope * width) / (highSlope - lowSlope);
    } else {
      // Too little decrease with a negative slope: fit a parabola to the values instead.
      const curvature = (highLoss - lowLoss - lowSlope * width) / (width * width);
      next = curvature > 0 ? lowStep - lowSlope / (2 * curvature) : NaN;
    }
    step = insideBracket(next, lowStep + 0.1 * width, highStep - 0.1 * width);
  }
  return NaN;
}

// `value` if it lies in [low, high], else the nearer end; the midpoint when `value` is NaN.
function insideBracket(value: number, low: number, high: number): number {
  if (value < low) return low;
  if (value > high) return high;
  return value >= low && value <= high ? value : 0.5 * (low + high);
}

// The last HISTORY step and gradient-change pairs of L-BFGS in ring buffers, and the
// two-loop recursion over them.
class CurvatureHistory {
  readonly #steps: Float64Array[] = [];
  readonly #changes: Float64Array[] = [];
  readonly #rho = new Float64Array(HISTORY);
  readonly #alpha = new Float64Array(HISTORY);
  #size = 0;
  #newest = HISTORY - 1;
  #scale = 1;

  constructor(n: number) {
    const steps = new Float64Array(HISTORY * n);
    const changes = new Float64Array(HISTORY * n);
    for (let slot = 0; slot < HISTORY; slot++) {
      this.#steps.push(steps.subarray(slot * n, (slot + 1) * n));
      this.#changes.push(changes.subarray(slot * n, (slot + 1) * n));
    }
  }

  get size(): number {
    return this.#size;
  }

  clear(): void {
    this.#size = 0;
    this.#scale = 1;
  }

  // Keeps s = to − from and y = toGradient − fromGradient, unless sᵀy shows no positive
  // curvature (then the pair would make the estimate indefinite).
  record(from: Float64Array, to: Float64Array, fromGradient: Float64Array, toGradient: Float64Array): void {
    let sy = 0;
    let yy = 0;
    for (let k = 0; k < from.length; k++) {
      const change = toGradient[k]! - fromGradient[k]!;
      sy += (to[k]! - from[k]!) * change;
      yy += change * change;
    }
    if (!(sy > Number.EPSILON * yy)) return;
    const slot = (this.#newest + 1) % HISTORY;
    const s = this.#steps[slot]!;
    const y = this.#changes[slot]!;
    for (let k = 0; k < from.length; k++) {
      s[k] = to[k]! - from[k]!;
      y[k] = toGradient[k]! - fromGradient[k]!;
    }
    this.#rho[slot] = 1 / sy;
    this.#scale = sy / yy;
    this.#newest = slot;
    if (this.#size < HISTORY) this.#size++;
  }

  // Writes −H·gradient into `out`, H the L-BFGS inverse-Hessian estimate (the identity when empty).
  direction(gradient: Float64Array, out: Float64Array): void {
    out.set(gradient);
    for (let i = 0; i < this.#size; i++) {
      const slot = (this.#newest - i + HISTORY) % HISTORY;
      const a = this.#rho[slot]! * dot(this.#steps[slot]!, out);
      this.#alpha[slot] = a;
      axpy(-a, this.#changes[slot]!, out);
    }
    for (let k = 0; k < out.length; k++) out[k] = out[k]! * this.#scale;
    for (let i = this.#size - 1; i >= 0; i--) {
      const slot = (this.#newest - i + HISTORY) % HISTORY;
      const b = this.#rho[slot]! * dot(this.#changes[slot]!, out);
      axpy(this.#alpha[slot]! - b, this.#steps[slot]!, out);
    }
    for (let k = 0; k < out.length; k++) out[k] = -out[k]!;
  }
}

// Per-class row counts, after checking `y` against `rows` and `classes`.
function countClasses(y: Int32Array, rows: number, classes: number): Int32Array {
  if (!Number.isInteger(classes) || classes < 2) throw new Error(`classes must be an integer ≥ 2, got ${classes}`);
  if (y.length !== rows) throw new Error(`y has length ${y.length}, expected one label per row (${rows})`);
  const counts = new Int32Array(classes);
  for (let i = 0; i < rows; i++) {
    const label = y[i]!;
    if (label < 0 || label >= classes) {
      throw new Error(`y[${i}] is ${label}, expected a class index in 0..${classes - 1}`);
    }
    counts[label] = counts[label]! + 1;
  }
  return counts;
}

function checkModel(model: LogisticRegressionModel): void {
  const { classes, cols, coefficients, intercepts } = model;
  if (coefficients.length !== classes * cols) {
    throw new Error(`model has ${coefficients.length} coefficients, expected classes × cols = ${classes * cols}`);
  }
  if (intercepts.length !== classes) throw new Error(`model has ${intercepts.length} intercepts, expected ${classes}`);
}

function columnMeans(x: DesignValues, rows: number, cols: number): Float64Array {
  const means = new Float64Array(cols);
  for (let i = 0, rowStart = 0; i < rows; i++, rowStart += cols) {
    for (let j = 0; j < cols; j++) means[j] = means[j]! + x[rowStart + j]!;
  }
  for (let j = 0; j < cols; j++) means[j] = means[j]! / rows;
  return means;
}

// Centred parameters (W, b′) to the model's own (W, b = b′ − W·x̄).
function toRawParams(centred: Float64Array, means: Float64Array, classes: number, out: Float64Array): void {
  const cols = means.length;
  const weightCount = classes * cols;
  out.set(centred);
  for (let c = 0, w = 0; c < classes; c++, w += cols) {
    let shift = 0;
    for (let j = 0; j < cols; j++) shift += centred[w + j]! * means[j]!;
    out[weightCount + c] = centred[weightCount + c]! - shift;
  }
}

// Max-norm of the gradient in the model's own coordinates, from the centred one:
// ∂f/∂W = ∂f/∂W|centred + (∂f/∂b)·x̄ᵀ, and ∂f/∂b is the same in both.
function rawGradientMaxAbs(centred: Float64Array, means: Float64Array, classes: number): number {
  const cols = means.length;
  const weightCount = classes * cols;
  let max = 0;
  for (let c = 0, w = 0; c < classes; c++, w += cols) {
    const interceptGradient = centred[weightCount + c]!;
    max = Math.max(max, Math.abs(interceptGradient));
    for (let j = 0; j < cols; j++) max = Math.max(max, Math.abs(centred[w + j]! + interceptGradient * means[j]!));
  }
  return max;
}
