import { describe, expect, it } from 'vitest';
import { classificationMetrics, higherIsBetter, regressionMetrics } from '../../../shared/training/metrics';

describe('metrics', () => {
  it('computes accuracy, macro f1, log loss and auc as scikit-learn does', () => {
    // y = [0, 1, 1, 0], p(class 1) = [0.1, 0.4, 0.35, 0.8]
    const y = Int32Array.from([0, 1, 1, 0]);
    const p1 = [0.1, 0.4, 0.35, 0.8];
    const probabilities = Float64Array.from(p1.flatMap((p) => [1 - p, p]));
    const m = classificationMetrics(y, probabilities, 2);
    expect(m.accuracy).toBe(0.25); // predictions [0, 0, 0, 1]
    expect(m.auc).toBeCloseTo(0.5, 10); // sklearn.metrics.roc_auc_score([0,1,1,0],[0.1,0.4,0.35,0.8]) = 0.5
    expect(m.logloss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.4) + Math.log(0.35) + Math.log(0.2)) / 4, 12);
    // class 0: tp 1, fp 2, fn 1 → f1 0.4; class 1: tp 0 → f1 0
    expect(m.f1).toBeCloseTo(0.2, 12);
  });

  it('gives a perfect ranking an auc of 1 and shares ties', () => {
    const y = Int32Array.from([0, 0, 1, 1]);
    expect(classificationMetrics(y, Float64Array.from([0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.1, 0.9]), 2).auc).toBe(1);
    expect(classificationMetrics(y, Float64Array.from([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), 2).auc).toBe(0.5);
  });

  it('computes rmse, mae and r2', () => {
    const m = regressionMetrics(Float64Array.from([1, 2, 3, 4]), Float64Array.from([1, 2, 3, 6]));
    expect(m.rmse).toBeCloseTo(1, 12);
    expect(m.mae).toBeCloseTo(0.5, 12);
    expect(m.r2).toBeCloseTo(1 - 4 / 5, 12);
  });

  it('knows which way each metric improves', () => {
    expect(['accuracy', 'f1', 'auc', 'r2'].every(higherIsBetter)).toBe(true);
    expect(['logloss', 'rmse', 'mae'].some(higherIsBetter)).toBe(false);
  });
});
