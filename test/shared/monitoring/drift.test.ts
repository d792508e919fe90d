import { describe, expect, it } from 'vitest';
import {
  accumulatorFor,
  baselineFromStats,
  categoryBaseline,
  decileEdges,
  jensenShannonDistance,
  numericBaseline,
  populationStabilityIndex,
} from '../../../shared/monitoring/drift';
import { numericStats } from '../../../shared/data/data-contract';

/** Deterministic standard normal draws (Box–Muller on a small LCG). */
function normals(n: number, seed: number, mean = 0, sd = 1): Float64Array {
  let state = seed;
  const uniform = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state + 0.5) / 2147483648;
  };
  return Float64Array.from({ length: n }, () => mean + sd * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

function psiOf(training: Float64Array, window: Float64Array): number {
  const accumulator = accumulatorFor(numericBaseline(training));
  for (const v of window) accumulator.add(v);
  return accumulator.figures().value!;
}

describe('drift measures', () => {
  it('PSI is 0 for identical shares and grows with the shift', () => {
    expect(populationStabilityIndex([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(populationStabilityIndex([0.5, 0.5], [0.9, 0.1])).toBeCloseTo(0.4 * Math.log(1.8) - 0.4 * Math.log(0.2), 10);
  });

  it('Jensen–Shannon distance is 0 for identical and 1 for disjoint distributions (base 2)', () => {
    expect(jensenShannonDistance([0.2, 0.8], [0.2, 0.8])).toBe(0);
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(1, 12);
    expect(jensenShannonDistance([0.5, 0.5], [0.6, 0.4])).toBeGreaterThan(0);
  });

  it('numeric baseline: training deciles as bins, each holding about a tenth of the values', () => {
    const baseline = numericBaseline(normals(10_000, 7));
    expect(baseline.edges).toHaveLength(9);
    for (const share of baseline.proportions) expect(share).toBeCloseTo(0.1, 2);
    expect(baseline.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('a sample from the training distribution stays far under 0.2; a one-sd shift goes far over', () => {
    const training = normals(20_000, 1);
    expect(psiOf(training, normals(2_000, 2))).toBeLessThan(0.05);
    expect(psiOf(training, normals(2_000, 3, 1))).toBeGreaterThan(0.5);
  });

  it('categories: a new dominant value is drift, unseen in training, with examples', () => {
    const training = Array.from({ length: 1000 }, (_, i) => (i % 4 === 0 ? 'blue' : 'red'));
    const same = accumulatorFor(categoryBaseline(training));
    const shifted = accumulatorFor(categoryBaseline(training));
    for (let i = 0; i < 400; i++) {
      same.add(i % 4 === 0 ? 'blue' : 'red');
      shifted.add(i % 2 === 0 ? 'green' : 'red');
    }
    expect(same.figures()).toMatchObject({ measure: 'jensen-shannon', value: 0, unseenRate: 0 });
    expect(shifted.figures().value).toBeGreaterThan(0.3);
    expect(shifted.figures()).toMatchObject({ unseenRate: 0.5, unseenExamples: ['green'] });
  });

  it('nulls are counted apart from the distribution; out of range uses the contract range when declared, else training', () => {
    const baseline = numericBaseline(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const training = accumulatorFor(baseline);
    const contract = accumulatorFor(baseline, { min: 0, max: 100 });
    for (const v of [null, 50, 5, 'x']) {
      training.add(v);
      contract.add(v);
    }
    expect(training.figures()).toMatchObject({ rows: 4, nullRate: 0.5, outOfRangeRate: 0.5, range: { min: 1, max: 10, from: 'training' } });
    expect(contract.figures()).toMatchObject({ outOfRangeRate: 0, range: { min: 0, max: 100, from: 'contract' } });
  });

  it('a window with no values measures nothing rather than zero', () => {
    const accumulator = accumulatorFor(numericBaseline(normals(100, 4)));
    accumulator.add(null);
    expect(accumulator.figures().value).toBeUndefined();
  });

  it('a baseline rebuilt from drop statistics approximates the exact one, tied deciles included', () => {
    const flags = Float64Array.from({ length: 1000 }, (_, i) => (i < 450 ? 0 : 1));
    const approximate = baselineFromStats(numericStats('boolean', flags));
    expect(approximate).toMatchObject({ kind: 'numeric', edges: [0, 1] });
    expect(approximate!.kind === 'numeric' && approximate!.proportions).toEqual([0.45, 0.55, 0]);
    const exact = numericBaseline(flags, decileEdges(flags));
    expect(exact.proportions).toEqual([0.45, 0.55, 0]);
    const accumulator = accumulatorFor(approximate!);
    for (const v of flags) accumulator.add(v);
    expect(accumulator.figures().value).toBeLessThan(0.01);
    // Untied deciles of a continuous column give a tenth per bin, as the exact baseline does.
    const continuous = baselineFromStats(numericStats('number', normals(10_000, 9)));
    expect(continuous!.kind === 'numeric' && continuous!.proportions.map((p) => Number(p.toFixed(6)))).toEqual(Array(10).fill(0.1));
  });
});
