/**
 * What the trainers hand to the ONNX exporter: a whole scoring pipeline from raw, named
 * features to labels and probabilities (classifiers) or a value (regressors).
 *
 * Design-matrix order, shared by the trainers and the exported graph: every `numeric`
 * feature in the order given, then every `category` feature in the order given, each
 * category expanded to one column per known category.
 */

/** A feature that enters the model as one number. */
export interface NumericFeature {
  readonly kind: 'numeric';
  /** The graph input's name: the raw column name. */
  readonly name: string;
  /**
   * Element type of the graph input. `float` carries missing values as NaN;
   * `int64` and `bool` are cast to float inside the graph and cannot be missing.
   * @default 'float'
   */
  readonly inputType?: 'float' | 'int64' | 'bool';
  /** Replaces a missing (NaN) value before scaling; the training mean. */
  readonly imputeValue: number;
  /** Standardisation: the model sees `(x - offset) * scale`. */
  readonly offset: number;
  readonly scale: number;
}

/** A feature that enters the model as a one-hot block; unseen or missing values give all zeros. */
export interface CategoryFeature {
  readonly kind: 'category';
  readonly name: string;
  /** Known categories, in the order of their one-hot columns. */
  readonly categories: readonly string[];
}

export type PipelineFeature = NumericFeature | CategoryFeature;

/** Multinomial linear classifier; probabilities are the softmax of `coefficients · x + intercepts`. */
export interface LinearClassifierModel {
  readonly kind: 'linear-classifier';
  /** Original label values, in class order: all strings or all integers. */
  readonly labels: readonly string[] | readonly number[];
  /** Row-major, one row per class, one column per design-matrix column. */
  readonly coefficients: ArrayLike<number>;
  /** One per class. */
  readonly intercepts: ArrayLike<number>;
}

/** Linear regressor: `coefficients · x + intercept`. */
export interface LinearRegressorModel {
  readonly kind: 'linear-regressor';
  readonly coefficients: ArrayLike<number>;
  readonly intercept: number;
}

export type PipelineModel = LinearClassifierModel | LinearRegressorModel;

export interface PipelineSpec {
  readonly features: readonly PipelineFeature[];
  readonly model: PipelineModel;
  /** Graph name and doc string shown by model viewers. */
  readonly name: string;
  readonly description?: string;
  /** Extra `metadata_props` (string key/value) stored in the model file. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Output names of exported pipelines. */
export const OUTPUT_LABEL = 'label';
export const OUTPUT_PROBABILITIES = 'probabilities';
export const OUTPUT_VALUE = 'variable';
