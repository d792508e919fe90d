import { describe, expect, it } from 'vitest';
// The product's seeded PRNG, so every run sees the same data.
import { mulberry32 } from '../../../shared/training/split';
import {
  fitLogisticRegression,
  logisticObjective,
  predictProbabilities,
  type LogisticRegressionModel,
} from '../../../shared/training/logistic-regression';


function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

interface Problem {
  x: Float64Array;
  rows: number;
  cols: number;
  y: Int32Array;
  classes: number;
}

// Overlapping classes: labels drawn from a softmax of a random linear model, so no class is separable.
function noisyProblem(seed: number, rows: number, cols: number, classes: number): Problem {
  const random = mulberry32(seed);
  const normal = gaussian(random);
  const x = new Float64Array(rows * cols).map(() => normal());
  const truth = new Float64Array(classes * cols).map(() => normal());
  const y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const weights: number[] = [];
    for (let c = 0; c < classes; c++) {
      let z = 0;
      for (let j = 0; j < cols; j++) z += truth[c * cols + j]! * x[i * cols + j]!;
      weights.push(Math.exp(z));
    }
    let u = random() * weights.reduce((a, b) => a + b, 0);
    let label = 0;
    while (label < classes - 1 && u > weights[label]!) u -= weights[label++]!;
    y[i] = label;
  }
  return { x, rows, cols, y, classes };
}

// Three tight clusters far apart: linearly separable.
function separableProblem(): Problem {
  const random = mulberry32(42);
  const normal = gaussian(random);
  const centres = [
    [6, 0],
    [-3, 5],
    [-3, -5],
  ];
  const perClass = 40;
  const rows = perClass * 3;
  const cols = 2;
  const x = new Float64Array(rows * cols);
  const y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % 3;
    y[i] = c;
    x[i * cols] = centres[c]![0]! + 0.5 * normal();
    x[i * cols + 1] = centres[c]![1]! + 0.5 * normal();
  }
  return { x, rows, cols, y, classes: 3 };
}

function fit(p: Problem, options?: Parameters<typeof fitLogisticRegression>[5]): LogisticRegressionModel {
  return fitLogisticRegression(p.x, p.rows, p.cols, p.y, p.classes, options);
}

function bytes(a: Float64Array): number[] {
  return Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

// Two classes take their own pass (one score difference per row); both must meet the same definition.
describe.each([3, 2])('logisticObjective with %i classes', (classes) => {
  const p = noisyProblem(1, 40, 4, classes);
  const l2 = 0.7;
  const n = p.classes * (p.cols + 1);
  const random = mulberry32(99);
  const params = new Float64Array(n).map(() => random() * 2 - 1);

  it('equals Σ −log softmax[y] + (λ/2)·‖W‖², computed naively', () => {
    let expected = 0;
    for (let i = 0; i < p.rows; i++) {
      const z: number[] = [];
      for (let c = 0; c < p.classes; c++) {
        let s = params[p.classes * p.cols + c]!;
        for (let j = 0; j < p.cols; j++) s += params[c * p.cols + j]! * p.x[i * p.cols + j]!;
        z.push(s);
      }
      expected -= Math.log(Math.exp(z[p.y[i]!]!) / z.reduce((a, b) => a + Math.exp(b), 0));
    }
    for (let k = 0; k < p.classes * p.cols; k++) expected += 0.5 * l2 * params[k]! ** 2;
    const actual = logisticObjective(p.x, p.rows, p.cols, p.y, p.classes, l2, params, new Float64Array(n));
    expect(actual).toBeCloseTo(expected, 10);
  });

  it('has the gradient that central finite differences give at a random point', () => {
    const gradient = new Float64Array(n);
    logisticObjective(p.x, p.rows, p.cols, p.y, p.classes, l2, params, gradient);
    const scratch = new Float64Array(n);
    const h = 1e-5;
    for (let k = 0; k < n; k++) {
      const shifted = Float64Array.from(params);
      shifted[k] = params[k]! + h;
      const up = logisticObjective(p.x, p.rows, p.cols, p.y, p.classes, l2, shifted, scratch);
      shifted[k] = params[k]! - h;
      const down = logisticObjective(p.x, p.rows, p.cols, p.y, p.classes, l2, shifted, scratch);
      const numeric = (up - down) / (2 * h);
      expect(Math.abs(numeric - gradient[k]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(gradient[k]!)));
    }
  });

  it('stays finite for scores far beyond exp overflow', () => {
    const huge = Float64Array.from(params, (v) => v * 1e4);
    const value = logisticObjective(p.x, p.rows, p.cols, p.y, p.classes, l2, huge, new Float64Array(n));
    expect(Number.isFinite(value)).toBe(true);
  });
});

describe('fitLogisticRegression', () => {
  it('classifies separable three-class training data perfectly, with finite weights', () => {
    const p = separableProblem();
    const model = fit(p);
    expect(model.converged).toBe(true);
    expect(model.coefficients.every(Number.isFinite)).toBe(true);
    const probabilities = predictProbabilities(model, p.x, p.rows);
    for (let i = 0; i < p.rows; i++) {
      const row = Array.from(probabilities.subarray(i * 3, i * 3 + 3));
      expect(row.indexOf(Math.max(...row))).toBe(p.y[i]);
    }
  });

  it('keeps weights finite on separable data even with a tiny penalty', () => {
    const p = separableProblem();
    const model = fit(p, { l2: 1e-4, maxIterations: 1000 });
    expect(model.converged).toBe(true);
    expect(model.coefficients.every(Number.isFinite)).toBe(true);
    expect(Number.isFinite(model.loss)).toBe(true);
  });

  it('meets the first-order conditions at the optimum', () => {
    const p = noisyProblem(2, 300, 5, 4);
    const l2 = 2;
    const tolerance = 1e-10;
    const model = fit(p, { l2, tolerance });
    expect(model.converged).toBe(true);
    const probabilities = predictProbabilities(model, p.x, p.rows);
    let worst = 0;
    for (let c = 0; c < p.classes; c++) {
      // Σ_i (p_ic − [y_i = c]) = 0: the intercept's stationarity.
      let interceptCondition = 0;
      const weightConditions = new Float64Array(p.cols);
      for (let i = 0; i < p.rows; i++) {
        const residual = probabilities[i * p.classes + c]! - (p.y[i] === c ? 1 : 0);
        interceptCondition += residual;
        for (let j = 0; j < p.cols; j++) weightConditions[j] = weightConditions[j]! + residual * p.x[i * p.cols + j]!;
      }
      worst = Math.max(worst, Math.abs(interceptCondition));
      // Σ_i (p_ic − [y_i = c])·x_ij + λ·w_cj = 0
      for (let j = 0; j < p.cols; j++) {
        worst = Math.max(worst, Math.abs(weightConditions[j]! + l2 * model.coefficients[c * p.cols + j]!));
      }
    }
    expect(worst).toBeLessThan(2 * tolerance * p.rows);
    // A consequence: the weights of every column sum to 0 over the classes.
    for (let j = 0; j < p.cols; j++) {
      let sum = 0;
      for (let c = 0; c < p.classes; c++) sum += model.coefficients[c * p.cols + j]!;
      expect(Math.abs(sum)).toBeLessThan(1e-6);
    }
  });

  it('reaches the default tolerance and reports the objective at the returned model', () => {
    const p = noisyProblem(3, 500, 6, 3);
    const model = fit(p);
    expect(model.converged).toBe(true);
    expect(model.iterations).toBeGreaterThan(0);
    const params = new Float64Array(p.classes * (p.cols + 1));
    params.set(model.coefficients);
    params.set(model.intercepts, p.classes * p.cols);
    const gradient = new Float64Array(params.length);
    const loss = logisticObjective(p.x, p.rows, p.cols, p.y, p.classes, 1, params, gradient);
    expect(model.loss).toBeCloseTo(loss, 9);
    expect(Math.max(...Array.from(gradient, Math.abs))).toBeLessThanOrEqual(1e-6 * p.rows * 1.001);
  });

  it('fits bit-identical models from the same data, twice, without changing the inputs', () => {
    const p = noisyProblem(4, 400, 7, 5);
    const copy: Problem = { ...p, x: Float64Array.from(p.x), y: Int32Array.from(p.y) };
    const first = fit(p);
    const second = fit(copy);
    expect(bytes(second.coefficients)).toEqual(bytes(first.coefficients));
    expect(bytes(second.intercepts)).toEqual(bytes(first.intercepts));
    expect(Object.is(second.loss, first.loss)).toBe(true);
    expect(second.iterations).toBe(first.iterations);
    expect(bytes(p.x)).toEqual(bytes(copy.x));
    expect(Array.from(p.y)).toEqual(Array.from(copy.y));
  });

  it('gives two classes one coefficient row each, and probabilities that are a sigmoid of the row difference', () => {
    const p = noisyProblem(5, 200, 3, 2);
    const model = fit(p, { tolerance: 1e-10 });
    expect(model.coefficients.length).toBe(2 * p.cols);
    expect(model.intercepts.length).toBe(2);
    const probabilities = predictProbabilities(model, p.x, p.rows);
    for (let i = 0; i < p.rows; i++) {
      let difference = model.intercepts[1]! - model.intercepts[0]!;
      for (let j = 0; j < p.cols; j++) {
        difference += (model.coefficients[p.cols + j]! - model.coefficients[j]!) * p.x[i * p.cols + j]!;
      }
      expect(probabilities[i * 2 + 1]).toBeCloseTo(1 / (1 + Math.exp(-difference)), 14);
      expect(probabilities[i * 2]! + probabilities[i * 2 + 1]!).toBeCloseTo(1, 15);
    }
    // The penalty splits the difference evenly: the rows are negatives of each other.
    for (let j = 0; j < p.cols; j++) expect(model.coefficients[j]).toBeCloseTo(-model.coefficients[p.cols + j]!, 8);
    expect(model.intercepts[0]).toBeCloseTo(-model.intercepts[1]!, 14);
  });

  it('predicts finite probabilities for scores far beyond exp overflow', () => {
    const model: LogisticRegressionModel = {
      classes: 3,
      cols: 1,
      coefficients: new Float64Array([1000, 0, -1000]),
      intercepts: new Float64Array(3),
      iterations: 0,
      converged: true,
      loss: 0,
    };
    const probabilities = predictProbabilities(model, new Float64Array([2, -2, 0]), 3);
    expect(Array.from(probabilities)).toEqual([1, 0, 0, 0, 0, 1, 1 / 3, 1 / 3, 1 / 3]);
  });

  it('centres the intercepts to sum 0', () => {
    const model = fit(noisyProblem(6, 150, 2, 4));
    expect(Math.abs(model.intercepts.reduce((a, b) => a + b, 0))).toBeLessThan(1e-12);
  });

  it('fits an intercept-only model to the class frequencies', () => {
    const y = new Int32Array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2]);
    const model = fitLogisticRegression(new Float64Array(0), 10, 0, y, 3);
    expect(model.converged).toBe(true);
    const probabilities = predictProbabilities(model, new Float64Array(0), 1);
    expect(probabilities[0]).toBeCloseTo(0.6, 14);
    expect(probabilities[1]).toBeCloseTo(0.3, 14);
    expect(probabilities[2]).toBeCloseTo(0.1, 14);
  });

  it('reports each iteration with a non-increasing objective', () => {
    const p = noisyProblem(7, 300, 4, 3);
    const seen: Array<[number, number]> = [];
    const model = fit(p, { onIteration: (iteration, loss) => void seen.push([iteration, loss]) });
    expect(seen.length).toBe(model.iterations);
    expect(seen.map(([iteration]) => iteration)).toEqual(Array.from({ length: seen.length }, (_, k) => k + 1));
    for (let k = 1; k < seen.length; k++) expect(seen[k]![1]).toBeLessThanOrEqual(seen[k - 1]![1] * (1 + 1e-10));
    expect(seen.at(-1)![1]).toBe(model.loss);
  });

  it('stops when the callback returns false', () => {
    const p = noisyProblem(8, 300, 4, 3);
    let calls = 0;
    const model = fit(p, {
      onIteration: () => {
        calls++;
        return calls < 2;
      },
    });
    expect(calls).toBe(2);
    expect(model.iterations).toBe(2);
    expect(model.converged).toBe(false);
  });

  it('stops after maxIterations without claiming convergence', () => {
    const model = fit(noisyProblem(9, 300, 6, 3), { maxIterations: 3, tolerance: 1e-12 });
    expect(model.iterations).toBe(3);
    expect(model.converged).toBe(false);
  });

  describe('rejects bad input with a message that says what is wrong', () => {
    const p = noisyProblem(10, 6, 2, 3);
    const y = new Int32Array([0, 1, 2, 0, 1, 2]);

    it('x of the wrong length', () => {
      expect(() => fitLogisticRegression(p.x.subarray(1), 6, 2, y, 3)).toThrow(
        /x has length 11, expected rows × cols = 6 × 2 = 12/,
      );
    });

    it('a non-finite entry', () => {
      const x = Float64Array.from(p.x);
      x[5] = Number.POSITIVE_INFINITY;
      expect(() => fitLogisticRegression(x, 6, 2, y, 3)).toThrow(/x is not finite at row 2, column 1/);
    });

    it('y of the wrong length', () => {
      expect(() => fitLogisticRegression(p.x, 6, 2, y.subarray(1), 3)).toThrow(/y has length 5, expected one label per row \(6\)/);
    });

    it('labels out of range', () => {
      expect(() => fitLogisticRegression(p.x, 6, 2, new Int32Array([0, 1, 2, 3, 1, 2]), 3)).toThrow(
        /y\[3\] is 3, expected a class index in 0\.\.2/,
      );
      expect(() => fitLogisticRegression(p.x, 6, 2, new Int32Array([0, 1, -1, 0, 1, 2]), 3)).toThrow(/y\[2\] is -1/);
    });

    it('a class with no rows', () => {
      expect(() => fitLogisticRegression(p.x, 6, 2, new Int32Array([0, 2, 2, 0, 3, 2]), 4)).toThrow(/class 1 has no rows/);
    });

    it('fewer than two classes', () => {
      expect(() => fitLogisticRegression(p.x, 6, 2, new Int32Array(6), 1)).toThrow(/classes must be an integer ≥ 2, got 1/);
    });

    it('invalid options', () => {
      expect(() => fitLogisticRegression(p.x, 6, 2, y, 3, { l2: -1 })).toThrow(/l2 must be a finite number ≥ 0, got -1/);
      expect(() => fitLogisticRegression(p.x, 6, 2, y, 3, { maxIterations: 2.5 })).toThrow(/maxIterations/);
      expect(() => fitLogisticRegression(p.x, 6, 2, y, 3, { tolerance: Number.NaN })).toThrow(/tolerance/);
    });

    it('x for prediction that does not match the model', () => {
      const model = fitLogisticRegression(p.x, 6, 2, y, 3);
      expect(() => predictProbabilities(model, new Float64Array(5), 2)).toThrow(/x has length 5, expected rows × cols = 2 × 2 = 4/);
    });
  });
});
