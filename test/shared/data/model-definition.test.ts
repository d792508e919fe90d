import { describe, expect, it } from 'vitest';
import { assertModelName, parseModelDefinition } from '../../../shared/data/model-definition';

describe('model definitions', () => {
  it('accepts the minimal definition and the full one from the contract', () => {
    expect(parseModelDefinition({ task: 'classification', target: 'species' })).toEqual({ task: 'classification', target: 'species' });
    const full = {
      task: 'classification',
      target: 'species',
      features: { sepal_length: { type: 'number', min: 0 }, color: { type: 'category' } },
      primaryMetric: 'accuracy',
      trainers: ['gbdt', 'linear'],
      promotion: { policy: 'auto', minImprovement: 0 },
      evaluation: { schedule: '0 0 * * * *', driftThreshold: 0.2 },
      training: { window: { maxRows: 5000000, maxAgeDays: 365 }, timeBudgetSeconds: 600 },
    };
    expect(parseModelDefinition(full).features?.sepal_length).toEqual({ type: 'number', min: 0 });
  });

  it('names every bad field', () => {
    const attempt = () => parseModelDefinition({ task: 'clustering', features: { x: { type: 'float' } } });
    expect(attempt).toThrow(expect.objectContaining({ code: 'InvalidDefinition', message: expect.stringMatching(/task: must be "classification" or "regression"/) }));
    expect(attempt).toThrow(expect.objectContaining({ message: expect.stringMatching(/target: is required/) }));
    expect(attempt).toThrow(expect.objectContaining({ message: expect.stringMatching(/features\.x\.type/) }));
  });

  it('rejects a metric of the other task, unknown fields and a target listed as a feature', () => {
    expect(() => parseModelDefinition({ task: 'regression', target: 'y', primaryMetric: 'accuracy' })).toThrow(/primaryMetric: must be one of rmse, mae, r2/);
    expect(() => parseModelDefinition({ task: 'regression', target: 'y', colour: 'red' })).toThrow(/colour/);
    expect(() => parseModelDefinition({ task: 'regression', target: 'y', features: { y: { type: 'number' } } })).toThrow(/features\.y: the target column cannot also be a feature/);
  });

  it('takes an evaluation schedule only as six-field NCRONTAB, and thresholds only in range', () => {
    const withEvaluation = (evaluation: object) => () => parseModelDefinition({ task: 'regression', target: 'y', evaluation });
    expect(withEvaluation({ schedule: '0 30 6 * * 1-5', decayThreshold: 0.05, minRows: 200, retrain: false })).not.toThrow();
    expect(withEvaluation({ schedule: '0 * * * *' })).toThrow(/evaluation\.schedule: "0 \* \* \* \*" has 5 field\(s\); a schedule is six-field NCRONTAB/);
    expect(withEvaluation({ schedule: '0 99 * * * *' })).toThrow(/evaluation\.schedule: "0 99 \* \* \* \*" is not a valid NCRONTAB expression/);
    expect(withEvaluation({ dataQualityThreshold: 2 })).toThrow(/evaluation\.dataQualityThreshold/);
    expect(withEvaluation({ minRows: 0.5 })).toThrow(/evaluation\.minRows/);
  });

  it('holds model names to the contract pattern', () => {
    expect(() => assertModelName('iris-2')).not.toThrow();
    for (const bad of ['Iris', '-iris', 'iris_2', '', 'a'.repeat(64)]) {
      expect(() => assertModelName(bad)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    }
  });
});
