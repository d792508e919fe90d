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

/**
 * One decision tree in flat arrays, one entry per node; node 0 is the root. An internal node
 * sends a row left when its value is `<= threshold` (numeric) or `== threshold` (category code),
 * and a missing value (NaN) the way `missingLeft` says. Tree models see raw numeric values (no
 * imputation or scaling) and category codes: the index in the feature's `categories`, NaN for
 * missing or unseen values.
 */
export interface DecisionTree {
  /** Class index (classifiers with more than two classes) the leaves add to; 0 otherwise. */
  readonly target: number;
  /** Design-matrix column the node tests (numeric features, then one column per category feature); -1 for a leaf. */
  readonly feature: Int32Array;
  readonly threshold: Float32Array;
  /** 1 where the node tests a category code for equality. */
  readonly categorical: Uint8Array;
  /** Child node ids; -1 for a leaf. */
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly missingLeft: Uint8Array;
  /** Leaf values (learning rate applied); ignored on internal nodes. */
  readonly value: Float32Array;
}

/**
 * Gradient-boosted trees. Classifiers: with two labels every tree adds to the score of the second
 * label and the probability is its sigmoid; with more, each tree adds to its `target` class and
 * probabilities are the softmax. Regressors: the value is the sum of the leaves.
 */
export interface TreeEnsembleModel {
  readonly kind: 'tree-ensemble-classifier' | 'tree-ensemble-regressor';
  /** Classifiers only: original label values, in class order. */
  readonly labels?: readonly string[] | readonly number[];
  /** Scores before the first tree: one per class for more than two classes, else one. */
  readonly baseScores: readonly number[];
  readonly trees: readonly DecisionTree[];
}

export type PipelineModel = LinearClassifierModel | LinearRegressorModel | TreeEnsembleModel;

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
