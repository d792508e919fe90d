import { describe, expect, it } from 'vitest';
import { splitRows } from '../../../shared/training/split';

describe('splitRows', () => {
  it('is the same for the same seed and different for another', () => {
    const a = splitRows(100, 0.2, 1);
    expect(Array.from(splitRows(100, 0.2, 1).evaluation)).toEqual(Array.from(a.evaluation));
    expect(Array.from(splitRows(100, 0.2, 2).evaluation)).not.toEqual(Array.from(a.evaluation));
  });

  it('holds out the fraction, and every row lands on exactly one side', () => {
    const { train, evaluation } = splitRows(100, 0.2, 5);
    expect(evaluation.length).toBe(20);
    expect([...train, ...evaluation].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('stratifies by class', () => {
    const groups = Int32Array.from({ length: 100 }, (_, i) => (i < 90 ? 0 : 1));
    const { evaluation } = splitRows(100, 0.2, 3, groups);
    expect(Array.from(evaluation).filter((i) => groups[i] === 1).length).toBe(2);
    expect(Array.from(evaluation).filter((i) => groups[i] === 0).length).toBe(18);
  });

  it('evaluates on the training rows when there are too few to hold any out', () => {
    const split = splitRows(6, 0.2, 1);
    expect(split.evaluatedOnTraining).toBe(true);
    expect(Array.from(split.train)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
