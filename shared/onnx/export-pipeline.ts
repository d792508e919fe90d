/**
 * Exports a trained scoring pipeline as one self-contained ONNX graph: raw named features in,
 * labels and probabilities (or a value) out, using only opset 17 and `ai.onnx.ml` 3.
 *
 * ```
 * numeric inputs ─(Cast)─ Concat ─ Imputer ─ Scaler ─┐
 * category input ─ OneHotEncoder ─ Flatten ──────────┼─ Concat ─ LinearClassifier ─▶ label, probabilities
 * category input ─ OneHotEncoder ─ Flatten ──────────┘           LinearRegressor ─▶ variable
 * ```
 */

import type { GraphProto, ModelProto } from './onnx-model';
import {
  encodeModel,
  floatAttribute,
  floatsAttribute,
  intAttribute,
  intsAttribute,
  IR_VERSION,
  ONNX_DOMAIN,
  ONNX_ML_DOMAIN,
  stringAttribute,
  stringsAttribute,
  TensorDataType,
  tensorValueInfo,
  type Dimension,
  type NodeProto,
  type TensorValueInfo,
} from './onnx-model';
import {
  OUTPUT_LABEL,
  OUTPUT_PROBABILITIES,
  OUTPUT_VALUE,
  type CategoryFeature,
  type DecisionTree,
  type LinearClassifierModel,
  type LinearRegressorModel,
  type NumericFeature,
  type PipelineFeature,
  type PipelineSpec,
  type TreeEnsembleModel,
} from './pipeline-spec';

/** Highest default-domain opset an exported pipeline uses. */
export const PIPELINE_OPSET = 17;
/** Highest `ai.onnx.ml` opset an exported pipeline uses. */
export const PIPELINE_ML_OPSET = 3;
/** `metadata_props` key holding the classifier's labels as JSON, in probability-column order. */
export const METADATA_LABELS = 'modelloop.labels';
/** Name of the symbolic batch dimension of every input and output. */
export const BATCH_DIMENSION = 'N';

/** Thrown by {@link exportPipeline} for a spec it cannot turn into a valid model. */
export class PipelineSpecError extends Error {
  /** Always `InvalidPipelineSpec`. */
  readonly code = 'InvalidPipelineSpec';
  /** Where in the spec the problem is, e.g. `features[2].scale` or `model.coefficients`. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'PipelineSpecError';
    this.path = path;
  }
}

/** Columns of the design matrix: one per numeric feature, one per known category. */
export function designMatrixWidth(features: readonly PipelineFeature[]): number {
  let width = 0;
  for (const feature of features) width += feature.kind === 'numeric' ? 1 : feature.categories.length;
  return width;
}

/**
 * Builds the ONNX model (serialised `ModelProto`) of a scoring pipeline.
 *
 * Inputs: one `[N, 1]` tensor per feature, named as the feature (`float`, `int64`, `bool` or
 * `string`). Outputs: `label` `[N]` and `probabilities` `[N, classes]` (columns in label order)
 * for classifiers, `variable` `[N, 1]` for regressors.
 *
 * @throws {PipelineSpecError} when the spec is inconsistent (coefficient count, labels,
 *   duplicate or clashing names, non-finite numbers); the message names the feature or field.
 */
export function exportPipeline(spec: PipelineSpec): Uint8Array {
  validateSpec(spec);
  if (spec.model.kind === 'tree-ensemble-classifier' || spec.model.kind === 'tree-ensemble-regressor') {
    return exportTreePipeline(spec, spec.model);
  }
  const graph = new GraphParts(spec);
  const blocks: string[] = [];

  const numeric = spec.features.filter((f): f is NumericFeature => f.kind === 'numeric');
  if (numeric.length > 0) blocks.push(numericBlock(numeric, graph));
  for (const feature of spec.features) {
    if (feature.kind === 'category') blocks.push(categoryBlock(feature, graph));
  }
  let design = blocks[0] as string;
  if (blocks.length > 1) {
    design = graph.floatTensor('design_matrix', [BATCH_DIMENSION, designMatrixWidth(spec.features)]);
    graph.nodes.push({
      opType: 'Concat',
      name: 'design_matrix',
      input: blocks,
      output: [design],
      attribute: [intAttribute('axis', 1)],
    });
  }

  const outputs: TensorValueInfo[] = [];
  const metadata: Record<string, string> = { ...spec.metadata };
  const model = spec.model as LinearClassifierModel | LinearRegressorModel;
  if (model.kind === 'linear-classifier') {
    const stringLabels = typeof model.labels[0] === 'string';
    graph.nodes.push({
      opType: 'LinearClassifier',
      domain: ONNX_ML_DOMAIN,
      name: 'classifier',
      input: [design],
      output: [OUTPUT_LABEL, OUTPUT_PROBABILITIES],
      attribute: [
        floatsAttribute('coefficients', model.coefficients),
        floatsAttribute('intercepts', model.intercepts),
        stringLabels
          ? stringsAttribute('classlabels_strings', model.labels as readonly string[])
          : intsAttribute('classlabels_ints', model.labels as readonly number[]),
        stringAttribute('post_transform', 'SOFTMAX'),
      ],
    });
    outputs.push(
      tensorValueInfo(OUTPUT_LABEL, stringLabels ? TensorDataType.STRING : TensorDataType.INT64, [BATCH_DIMENSION]),
      tensorValueInfo(OUTPUT_PROBABILITIES, TensorDataType.FLOAT, [BATCH_DIMENSION, model.labels.length]),
    );
    metadata[METADATA_LABELS] = JSON.stringify(model.labels);
  } else {
    graph.nodes.push({
      opType: 'LinearRegressor',
      domain: ONNX_ML_DOMAIN,
      name: 'regressor',
      input: [design],
      output: [OUTPUT_VALUE],
      attribute: [
        floatsAttribute('coefficients', model.coefficients),
        floatsAttribute('intercepts', [model.intercept]),
        intAttribute('targets', 1),
      ],
    });
    outputs.push(tensorValueInfo(OUTPUT_VALUE, TensorDataType.FLOAT, [BATCH_DIMENSION, 1]));
  }

  return encodePipeline(spec, graph, outputs, metadata);
}

const INPUT_ELEM_TYPE = {
  float: TensorDataType.FLOAT,
  int64: TensorDataType.INT64,
  bool: TensorDataType.BOOL,
} as const;

function featureInput(feature: PipelineFeature): TensorValueInfo {
  const elemType = feature.kind === 'category' ? TensorDataType.STRING : INPUT_ELEM_TYPE[feature.inputType ?? 'float'];
  return tensorValueInfo(feature.name, elemType, [BATCH_DIMENSION, 1]);
}

/** Casts, concatenates, imputes and scales the numeric features; returns the `[N, numeric]` block. */
function numericBlock(features: readonly NumericFeature[], graph: GraphParts): string {
  const columns = features.map((feature) => {
    if ((feature.inputType ?? 'float') === 'float') return feature.name;
    const cast = graph.floatTensor(`${feature.name}_float`, [BATCH_DIMENSION, 1]);
    graph.nodes.push({
      opType: 'Cast',
      name: `cast_${feature.name}`,
      input: [feature.name],
      output: [cast],
      attribute: [intAttribute('to', TensorDataType.FLOAT)],
    });
    return cast;
  });
  const count = features.length;
  let stacked = columns[0] as string;
  if (count > 1) {
    stacked = graph.floatTensor('numeric', [BATCH_DIMENSION, count]);
    graph.nodes.push({
      opType: 'Concat',
      name: 'numeric',
      input: columns,
      output: [stacked],
      attribute: [intAttribute('axis', 1)],
    });
  }

  const imputeValues = new Float32Array(count);
  const offsets = new Float32Array(count);
  const scales = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const feature = features[i] as NumericFeature;
    imputeValues[i] = feature.imputeValue;
    offsets[i] = feature.offset;
    scales[i] = feature.scale;
  }
  const imputed = graph.floatTensor('numeric_imputed', [BATCH_DIMENSION, count]);
  graph.nodes.push({
    opType: 'Imputer',
    domain: ONNX_ML_DOMAIN,
    name: 'impute',
    input: [stacked],
    output: [imputed],
    attribute: [
      floatsAttribute('imputed_value_floats', imputeValues),
      floatAttribute('replaced_value_float', Number.NaN),
    ],
  });
  const scaled = graph.floatTensor('numeric_scaled', [BATCH_DIMENSION, count]);
  graph.nodes.push({
    opType: 'Scaler',
    domain: ONNX_ML_DOMAIN,
    name: 'scale',
    input: [imputed],
    output: [scaled],
    attribute: [floatsAttribute('offset', offsets), floatsAttribute('scale', scales)],
  });
  return scaled;
}

/** One-hot encodes one category feature; returns its `[N, categories]` block. */
function categoryBlock(feature: CategoryFeature, graph: GraphParts): string {
  // OneHotEncoder appends the category axis: [N, 1] becomes [N, 1, K]; Flatten makes it [N, K].
  const width = feature.categories.length;
  const encoded = graph.floatTensor(`${feature.name}_onehot_3d`, [BATCH_DIMENSION, 1, width]);
  graph.nodes.push({
    opType: 'OneHotEncoder',
    domain: ONNX_ML_DOMAIN,
    name: `onehot_${feature.name}`,
    input: [feature.name],
    output: [encoded],
    attribute: [stringsAttribute('cats_strings', feature.categories), intAttribute('zeros', 1)],
  });
  const flat = graph.floatTensor(`${feature.name}_onehot`, [BATCH_DIMENSION, width]);
  graph.nodes.push({
    opType: 'Flatten',
    name: `flatten_${feature.name}`,
    input: [encoded],
    output: [flat],
    attribute: [intAttribute('axis', 1)],
  });
  return flat;
}

/** The nodes of the graph being built, and its intermediate tensors. */
class GraphParts {
  readonly nodes: NodeProto[] = [];
  readonly valueInfo: TensorValueInfo[] = [];
  readonly #taken = new Set<string>();

  constructor(spec: PipelineSpec) {
    for (const feature of spec.features) this.#taken.add(feature.name);
    for (const name of outputNames(spec)) this.#taken.add(name);
  }

  /**
   * Names a new intermediate float tensor, never clashing with an input or output name, and
   * declares its type and shape: onnx's own inference has no type function for Scaler or
   * OneHotEncoder (onnx 1.12), so strict checking needs them declared.
   */
  floatTensor(base: string, shape: readonly Dimension[]): string {
    let name = base;
    for (let n = 1; this.#taken.has(name); n++) name = `${base}_${n}`;
    this.#taken.add(name);
    this.valueInfo.push(tensorValueInfo(name, TensorDataType.FLOAT, shape));
    return name;
  }
}

function outputNames(spec: PipelineSpec): readonly string[] {
  const kind = spec.model.kind;
  return kind === 'linear-classifier' || kind === 'tree-ensemble-classifier' ? [OUTPUT_LABEL, OUTPUT_PROBABILITIES] : [OUTPUT_VALUE];
}

/**
 * Tree pipelines: numeric inputs go in raw (NaN stays missing: the trees route it), each category
 * becomes its code through a LabelEncoder whose default (unseen or missing) is NaN, then one
 * TreeEnsembleClassifier or TreeEnsembleRegressor.
 */
/** The smallest normal float32: far below any effect on a probability. */
const TINY_WEIGHT = 1.1754943508222875e-38;

function exportTreePipeline(spec: PipelineSpec, model: TreeEnsembleModel): Uint8Array {
  const graph = new GraphParts(spec);
  const columns: string[] = [];
  const numeric = spec.features.filter((f): f is NumericFeature => f.kind === 'numeric');
  const categories = spec.features.filter((f): f is CategoryFeature => f.kind === 'category');
  for (const feature of numeric) {
    if ((feature.inputType ?? 'float') === 'float') {
      columns.push(feature.name);
      continue;
    }
    const cast = graph.floatTensor(`${feature.name}_float`, [BATCH_DIMENSION, 1]);
    graph.nodes.push({ opType: 'Cast', name: `cast_${feature.name}`, input: [feature.name], output: [cast], attribute: [intAttribute('to', TensorDataType.FLOAT)] });
    columns.push(cast);
  }
  for (const feature of categories) {
    const code = graph.floatTensor(`${feature.name}_code`, [BATCH_DIMENSION, 1]);
    graph.nodes.push({
      opType: 'LabelEncoder',
      domain: ONNX_ML_DOMAIN,
      name: `encode_${feature.name}`,
      input: [feature.name],
      output: [code],
      attribute: [
        stringsAttribute('keys_strings', feature.categories),
        floatsAttribute('values_floats', Float32Array.from(feature.categories, (_, k) => k)),
        floatAttribute('default_float', Number.NaN),
      ],
    });
    columns.push(code);
  }
  let design = columns[0] as string;
  if (columns.length > 1) {
    design = graph.floatTensor('design_matrix', [BATCH_DIMENSION, columns.length]);
    graph.nodes.push({ opType: 'Concat', name: 'design_matrix', input: columns, output: [design], attribute: [intAttribute('axis', 1)] });
  }

  // Flatten the trees into the ensemble's parallel node arrays.
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const modes: string[] = [];
  const values: number[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const missingTrue: number[] = [];
  const leafTree: number[] = [];
  const leafNode: number[] = [];
  const leafTarget: number[] = [];
  const leafWeight: number[] = [];
  const classifier = model.kind === 'tree-ensemble-classifier';
  const binary = classifier && model.labels!.length === 2;
  model.trees.forEach((tree, t) => {
    for (let node = 0; node < tree.feature.length; node++) {
      treeIds.push(t);
      nodeIds.push(node);
      const leaf = tree.left[node]! < 0;
      featureIds.push(leaf ? 0 : tree.feature[node]!);
      modes.push(leaf ? 'LEAF' : tree.categorical[node] ? 'BRANCH_EQ' : 'BRANCH_LEQ');
      values.push(leaf ? 0 : tree.threshold[node]!);
      trueIds.push(leaf ? 0 : tree.left[node]!);
      falseIds.push(leaf ? 0 : tree.right[node]!);
      missingTrue.push(leaf ? 0 : tree.missingLeft[node]!);
      if (!leaf) continue;
      const value = tree.value[node]!;
      leafTree.push(t);
      leafNode.push(node);
      leafTarget.push(tree.target);
      leafWeight.push(value);
    }
  });
  if (binary && leafWeight.every((w) => w >= 0)) {
    // ONNX Runtime reads a two-class ensemble whose weights are all non-negative as probabilities,
    // not scores; one extra single-leaf tree with a negligible negative weight keeps it a score.
    const t = model.trees.length;
    treeIds.push(t);
    nodeIds.push(0);
    featureIds.push(0);
    modes.push('LEAF');
    values.push(0);
    trueIds.push(0);
    falseIds.push(0);
    missingTrue.push(0);
    leafTree.push(t);
    leafNode.push(0);
    leafTarget.push(0);
    leafWeight.push(-TINY_WEIGHT);
  }
  const base = model.baseScores.map(Math.fround);
  const nodeAttributes = [
    intsAttribute('nodes_treeids', treeIds),
    intsAttribute('nodes_nodeids', nodeIds),
    intsAttribute('nodes_featureids', featureIds),
    stringsAttribute('nodes_modes', modes),
    floatsAttribute('nodes_values', values),
    intsAttribute('nodes_truenodeids', trueIds),
    intsAttribute('nodes_falsenodeids', falseIds),
    intsAttribute('nodes_missing_value_tracks_true', missingTrue),
  ];
  const outputs: TensorValueInfo[] = [];
  const metadata: Record<string, string> = { ...spec.metadata };
  if (classifier) {
    const labels = model.labels!;
    const stringLabels = typeof labels[0] === 'string';
    graph.nodes.push({
      opType: 'TreeEnsembleClassifier',
      domain: ONNX_ML_DOMAIN,
      name: 'classifier',
      input: [design],
      output: [OUTPUT_LABEL, OUTPUT_PROBABILITIES],
      attribute: [
        ...nodeAttributes,
        intsAttribute('class_treeids', leafTree),
        intsAttribute('class_nodeids', leafNode),
        intsAttribute('class_ids', leafTarget),
        floatsAttribute('class_weights', leafWeight),
        floatsAttribute('base_values', base),
        stringLabels ? stringsAttribute('classlabels_strings', labels as readonly string[]) : intsAttribute('classlabels_int64s', labels as readonly number[]),
        // Two classes: one score s per row, probabilities (1 - sigmoid(s), sigmoid(s)), as onnxmltools writes them.
        stringAttribute('post_transform', binary ? 'LOGISTIC' : 'SOFTMAX'),
      ],
    });
    outputs.push(
      tensorValueInfo(OUTPUT_LABEL, stringLabels ? TensorDataType.STRING : TensorDataType.INT64, [BATCH_DIMENSION]),
      tensorValueInfo(OUTPUT_PROBABILITIES, TensorDataType.FLOAT, [BATCH_DIMENSION, labels.length]),
    );
    metadata[METADATA_LABELS] = JSON.stringify(labels);
  } else {
    graph.nodes.push({
      opType: 'TreeEnsembleRegressor',
      domain: ONNX_ML_DOMAIN,
      name: 'regressor',
      input: [design],
      output: [OUTPUT_VALUE],
      attribute: [
        ...nodeAttributes,
        intsAttribute('target_treeids', leafTree),
        intsAttribute('target_nodeids', leafNode),
        intsAttribute('target_ids', leafTarget),
        floatsAttribute('target_weights', leafWeight),
        intAttribute('n_targets', 1),
        floatsAttribute('base_values', base),
        stringAttribute('aggregate_function', 'SUM'),
        stringAttribute('post_transform', 'NONE'),
      ],
    });
    outputs.push(tensorValueInfo(OUTPUT_VALUE, TensorDataType.FLOAT, [BATCH_DIMENSION, 1]));
  }
  return encodePipeline(spec, graph, outputs, metadata);
}

function validateSpec(spec: PipelineSpec): void {
  if (typeof spec.name !== 'string' || spec.name === '') fail('name', 'must be a non-empty string');
  if (spec.description !== undefined && typeof spec.description !== 'string') fail('description', 'must be a string');
  if (spec.features.length === 0) fail('features', 'a pipeline needs at least one feature');

  const outputs = outputNames(spec);
  const seen = new Map<string, number>();
  spec.features.forEach((feature, i) => {
    const at = `features[${i}]`;
    if (typeof feature.name !== 'string' || feature.name === '') fail(`${at}.name`, 'must be a non-empty string');
    const first = seen.get(feature.name);
    if (first !== undefined) {
      fail(`${at}.name`, `duplicate feature name "${feature.name}" (also features[${first}])`);
    }
    seen.set(feature.name, i);
    if (outputs.includes(feature.name)) {
      fail(`${at}.name`, `feature "${feature.name}" clashes with the model output of the same name`);
    }
    if (feature.kind === 'numeric') validateNumeric(feature, at);
    else if (feature.kind === 'category') validateCategory(feature, at);
    else {
      const { name, kind } = feature as { name: string; kind: unknown };
      fail(`${at}.kind`, `feature "${name}" has unknown kind ${JSON.stringify(kind)}`);
    }
  });

  const width = designMatrixWidth(spec.features);
  const model = spec.model;
  if (model.kind === 'linear-classifier') {
    const classes = validateLabels(model);
    const why = `${classes} classes × ${width} design columns`;
    expectLength('model.coefficients', model.coefficients, classes * width, why);
    expectLength('model.intercepts', model.intercepts, classes, `one per class, ${classes} classes`);
    expectFinite('model.coefficients', model.coefficients);
    expectFinite('model.intercepts', model.intercepts);
  } else if (model.kind === 'tree-ensemble-classifier' || model.kind === 'tree-ensemble-regressor') {
    validateTrees(model, spec.features.length);
  } else if (model.kind === 'linear-regressor') {
    expectLength('model.coefficients', model.coefficients, width, `one per design column`);
    expectFinite('model.coefficients', model.coefficients);
    if (!isFiniteFloat32(model.intercept)) {
      fail('model.intercept', `must be a finite 32-bit float, got ${model.intercept}`);
    }
  } else {
    fail('model.kind', `unknown model kind ${JSON.stringify((model as { kind: unknown }).kind)}`);
  }

  for (const [key, value] of Object.entries(spec.metadata ?? {})) {
    if (key === '') fail('metadata', 'keys must be non-empty');
    if (typeof value !== 'string') fail(`metadata.${key}`, `must be a string, got ${typeof value}`);
    if (key === METADATA_LABELS) fail(`metadata.${key}`, `is reserved: the exporter writes it from model.labels`);
  }
}

function validateNumeric(feature: NumericFeature, at: string): void {
  const inputType = feature.inputType ?? 'float';
  if (!Object.hasOwn(INPUT_ELEM_TYPE, inputType)) {
    const got = JSON.stringify(inputType);
    fail(`${at}.inputType`, `feature "${feature.name}": inputType must be float, int64 or bool, got ${got}`);
  }
  for (const field of ['imputeValue', 'offset', 'scale'] as const) {
    const value = feature[field];
    if (!isFiniteFloat32(value)) {
      fail(`${at}.${field}`, `feature "${feature.name}": ${field} must be a finite 32-bit float, got ${value}`);
    }
  }
}

function validateCategory(feature: CategoryFeature, at: string): void {
  if (feature.categories.length === 0) {
    fail(`${at}.categories`, `feature "${feature.name}" has no categories`);
  }
  const seen = new Set<string>();
  feature.categories.forEach((category, j) => {
    if (typeof category !== 'string') {
      fail(`${at}.categories[${j}]`, `feature "${feature.name}": categories must be strings, got ${typeof category}`);
    }
    if (seen.has(category)) {
      fail(`${at}.categories[${j}]`, `feature "${feature.name}": duplicate category "${category}"`);
    }
    seen.add(category);
  });
}

function validateTrees(model: TreeEnsembleModel, columns: number): void {
  let scores = 1;
  if (model.kind === 'tree-ensemble-classifier') {
    const classes = validateLabels(model as unknown as LinearClassifierModel);
    scores = classes === 2 ? 1 : classes;
  } else if (model.labels !== undefined) {
    fail('model.labels', 'a regressor has no labels');
  }
  expectLength('model.baseScores', model.baseScores, scores, scores === 1 ? 'one score' : 'one per class');
  expectFinite('model.baseScores', model.baseScores);
  if (model.trees.length === 0) fail('model.trees', 'an ensemble needs at least one tree');
  model.trees.forEach((tree: DecisionTree, t) => {
    const at = `model.trees[${t}]`;
    const nodes = tree.feature.length;
    for (const field of ['threshold', 'categorical', 'left', 'right', 'missingLeft', 'value'] as const) {
      expectLength(`${at}.${field}`, tree[field], nodes, 'one per node');
    }
    if (!Number.isInteger(tree.target) || tree.target < 0 || tree.target >= scores) {
      fail(`${at}.target`, `must be a class index below ${scores}, got ${tree.target}`);
    }
    for (let node = 0; node < nodes; node++) {
      if (tree.left[node]! < 0) {
        if (!isFiniteFloat32(tree.value[node])) fail(`${at}.value[${node}]`, `must be a finite 32-bit float, got ${tree.value[node]}`);
        continue;
      }
      const feature = tree.feature[node]!;
      if (feature < 0 || feature >= columns) fail(`${at}.feature[${node}]`, `must be a design column below ${columns}, got ${feature}`);
      for (const child of [tree.left[node]!, tree.right[node]!]) {
        if (child <= node || child >= nodes) fail(`${at}.left[${node}]`, `children must be later nodes of the tree, got ${child}`);
      }
      if (!isFiniteFloat32(tree.threshold[node])) fail(`${at}.threshold[${node}]`, `must be a finite 32-bit float, got ${tree.threshold[node]}`);
    }
  });
}

/** Returns the class count. */
function validateLabels(model: LinearClassifierModel): number {
  const labels: readonly unknown[] = model.labels;
  if (labels.length === 0) fail('model.labels', 'is empty; a classifier needs its class labels');
  if (labels.length < 2) {
    fail('model.labels', `has one class (${JSON.stringify(labels[0])}); a classifier needs at least two`);
  }
  const kind = typeof labels[0];
  if (kind !== 'string' && kind !== 'number') fail('model.labels[0]', `must be a string or an integer, got ${kind}`);
  const seen = new Set<unknown>();
  labels.forEach((label, i) => {
    if (typeof label !== kind) {
      const found = `${JSON.stringify(label)} is a ${typeof label}, model.labels[0] a ${kind}`;
      fail(`model.labels[${i}]`, `mixes label types: ${found}`);
    }
    if (kind === 'number' && !Number.isSafeInteger(label)) {
      fail(`model.labels[${i}]`, `numeric labels must be integers, got ${String(label)}`);
    }
    if (seen.has(label)) fail(`model.labels[${i}]`, `duplicate label ${JSON.stringify(label)}`);
    seen.add(label);
  });
  return labels.length;
}

function expectLength(path: string, values: ArrayLike<number>, expected: number, why: string): void {
  if (values.length !== expected) fail(path, `has ${values.length} values; expected ${expected} (${why})`);
}

function expectFinite(path: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (!isFiniteFloat32(value)) fail(`${path}[${i}]`, `must be a finite 32-bit float, got ${value}`);
  }
}

/** ONNX stores these as float32: a double that overflows it would become ±Infinity in the model. */
function isFiniteFloat32(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(Math.fround(value));
}

function fail(path: string, message: string): never {
  throw new PipelineSpecError(path, message);
}

/** The model around a pipeline graph: one input per raw feature, our opsets and producer. */
function encodePipeline(
  spec: PipelineSpec,
  graph: { nodes: GraphProto['node']; valueInfo: GraphProto['valueInfo'] },
  outputs: GraphProto['output'],
  metadata: ModelProto['metadataProps'],
): Uint8Array {
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [
      { domain: ONNX_DOMAIN, version: PIPELINE_OPSET },
      { domain: ONNX_ML_DOMAIN, version: PIPELINE_ML_OPSET },
    ],
    producerName: 'modelloop',
    graph: {
      name: spec.name,
      ...(spec.description !== undefined && { docString: spec.description }),
      input: spec.features.map(featureInput),
      output: outputs,
      node: graph.nodes,
      valueInfo: graph.valueInfo,
    },
    metadataProps: metadata,
  });
}
