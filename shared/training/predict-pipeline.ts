import type { PipelineFeature, PipelineSpec } from '../onnx/pipeline-spec';
import { designMatrix, type TrainingTable } from './design-matrix';
import { predictGbdt, type GbdtData } from './gbdt';
import { predictProbabilities } from './logistic-regression';
import { predictRidge } from './ridge-regression';

/**
 * The in-memory predictions of a scoring pipeline on table rows: probabilities (rows × classes,
 * in label order) for classifiers, values for regressors. Candidates are evaluated with it, and
 * the exported ONNX graph must agree with it (the parity tests hold the two together).
 */
export function predictPipeline(spec: PipelineSpec, table: TrainingTable, rows: Int32Array): Float64Array {
  const model = spec.model;
  switch (model.kind) {
    case 'linear-classifier': {
      const { x, cols } = designMatrix(spec.features, table, rows);
      const classes = model.labels.length;
      return predictProbabilities(
        { classes, cols, coefficients: Float64Array.from(model.coefficients), intercepts: Float64Array.from(model.intercepts), iterations: 0, converged: true, loss: 0 },
        x,
        rows.length,
      );
    }
    case 'linear-regressor': {
      const { x, cols } = designMatrix(spec.features, table, rows);
      return predictRidge({ cols, coefficients: Float64Array.from(model.coefficients), intercept: model.intercept }, x, rows.length);
    }
    default: {
      const labels = model.labels?.length ?? 0;
      const objective = model.kind === 'tree-ensemble-regressor' ? 'regression' : labels === 2 ? 'binary' : 'multiclass';
      return predictGbdt({ objective, baseScores: model.baseScores, trees: [...model.trees], rounds: 0, bestRound: 0, stoppedEarly: false }, treeData(spec.features, table, rows));
    }
  }
}

/**
 * Tree input columns in design order: raw numbers (NaN = missing), then category codes (the index in
 * the learned vocabulary; missing and unknown values are NaN, as the exported LabelEncoder makes them).
 */
export function treeData(features: readonly PipelineFeature[], table: TrainingTable, rows: Int32Array): GbdtData {
  const ordered = [...features.filter((f) => f.kind === 'numeric'), ...features.filter((f) => f.kind === 'category')];
  const columns = ordered.map((feature) => {
    const column = table.columns[feature.name]!;
    if (feature.kind === 'numeric') {
      const values = column as Float64Array;
      return Float64Array.from(rows, (r) => values[r]!);
    }
    const index = new Map(feature.categories.map((c, k) => [c, k]));
    const values = column as (string | null)[];
    return Float64Array.from(rows, (r) => {
      const v = values[r];
      return v === null || v === undefined ? Number.NaN : index.get(v) ?? Number.NaN;
    });
  });
  return { rows: rows.length, columns, categorical: ordered.map((f) => f.kind === 'category') };
}
