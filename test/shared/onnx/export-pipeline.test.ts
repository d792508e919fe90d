import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  designMatrixWidth,
  exportPipeline,
  METADATA_LABELS,
  PipelineSpecError,
} from '../../../shared/onnx/export-pipeline';
import type { PipelineFeature, PipelineSpec } from '../../../shared/onnx/pipeline-spec';
import { all, bytesOf, int64Of, only, stringOf } from './wire-reader';

/** One raw input row: numbers (NaN = missing), bigints for int64, booleans, strings. */
type Row = Record<string, number | bigint | boolean | string>;

/** The pipeline's math in float64, straight from the PipelineSpec contract. */
function designRow(features: readonly PipelineFeature[], row: Row): number[] {
  const x: number[] = [];
  for (const f of features) {
    if (f.kind !== 'numeric') continue;
    const raw = Number(row[f.name]);
    const value = Number.isNaN(raw) ? f.imputeValue : raw;
    x.push((value - f.offset) * f.scale);
  }
  for (const f of features) {
    if (f.kind !== 'category') continue;
    for (const category of f.categories) x.push(row[f.name] === category ? 1 : 0);
  }
  return x;
}

function referenceScores(spec: PipelineSpec, row: Row): number[] {
  const x = designRow(spec.features, row);
  const model = spec.model;
  const rows = model.kind === 'linear-classifier' ? model.labels.length : 1;
  const scores: number[] = [];
  for (let k = 0; k < rows; k++) {
    let s = model.kind === 'linear-classifier' ? (model.intercepts[k] as number) : model.intercept;
    for (let j = 0; j < x.length; j++) s += (model.coefficients[k * x.length + j] as number) * (x[j] as number);
    scores.push(s);
  }
  return scores;
}

function softmax(scores: number[]): number[] {
  const max = Math.max(...scores);
  const e = scores.map((s) => Math.exp(s - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function feeds(spec: PipelineSpec, rows: readonly Row[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const f of spec.features) {
    const column = rows.map((r) => r[f.name]);
    const dims = [rows.length, 1];
    out[f.name] =
      f.kind === 'category'
        ? new ort.Tensor('string', column as string[], dims)
        : f.inputType === 'int64'
          ? new ort.Tensor('int64', BigInt64Array.from(column as bigint[]), dims)
          : f.inputType === 'bool'
            ? new ort.Tensor('bool', Uint8Array.from(column as boolean[], Number), dims)
            : new ort.Tensor('float32', Float32Array.from(column as number[]), dims);
  }
  return out;
}

async function score(spec: PipelineSpec, rows: readonly Row[]): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(exportPipeline(spec));
  return session.run(feeds(spec, rows));
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    expect(Math.abs((actual[i] as number) - e), `element ${i}: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(
      tolerance * Math.max(1, Math.abs(e)),
    );
  }
}

const irisLike: PipelineSpec = {
  name: 'flowers',
  description: 'three species from two measurements, a colour and a site',
  features: [
    { kind: 'numeric', name: 'sepal_length', imputeValue: 5.8, offset: 5.8, scale: 1 / 0.83 },
    { kind: 'category', name: 'color', categories: ['red', 'blue', 'white'] },
    { kind: 'numeric', name: 'petal_width', imputeValue: 1.2, offset: 1.2, scale: 1 / 0.76 },
    { kind: 'category', name: 'site', categories: ['north', 'south'] },
  ],
  model: {
    kind: 'linear-classifier',
    labels: ['setosa', 'versicolor', 'virginica'],
    // Design columns: sepal_length, petal_width, red, blue, white, north, south.
    coefficients: [
      -1.1, -2.3, 0.4, -0.2, 0.1, 0.3, -0.3,
      0.2, 0.1, -0.5, 0.6, -0.1, -0.2, 0.2,
      0.9, 2.2, 0.1, -0.4, 0.0, -0.1, 0.1,
    ],
    intercepts: [0.3, 0.5, -0.8],
  },
  metadata: { 'modelloop.model': 'flowers', 'modelloop.version': '3' },
};

const irisRows: Row[] = [
  { sepal_length: 5.1, color: 'red', petal_width: 0.2, site: 'north' },
  { sepal_length: 6.7, color: 'blue', petal_width: 2.1, site: 'south' },
  { sepal_length: 5.9, color: 'white', petal_width: 1.4, site: 'south' },
  // Missing measurements: imputed with the training means.
  { sepal_length: Number.NaN, color: 'red', petal_width: Number.NaN, site: 'north' },
  // Unseen and empty categories: all-zero one-hot blocks.
  { sepal_length: 4.4, color: 'purple', petal_width: 0.3, site: '' },
];

describe('exportPipeline: multiclass classifier with string labels', () => {
  it('gives the labels and softmax probabilities of the linear model on the design matrix', async () => {
    const out = await score(irisLike, irisRows);
    const expected = irisRows.map((r) => softmax(referenceScores(irisLike, r)));
    expect(out.probabilities?.dims).toEqual([irisRows.length, 3]);
    expectClose(out.probabilities?.data as Float32Array, expected.flat());
    const labels = ['setosa', 'versicolor', 'virginica'];
    const expectedLabels = expected.map((p) => labels[p.indexOf(Math.max(...p))]);
    expect(out.label?.dims).toEqual([irisRows.length]);
    expect(out.label?.data).toEqual(expectedLabels);
    // The rows are chosen so that every class wins somewhere.
    expect(new Set(expectedLabels)).toEqual(new Set(labels));
  });

  it('imputes a missing (NaN) measurement with its impute value', async () => {
    const missing = { sepal_length: Number.NaN, color: 'blue', petal_width: 0.9, site: 'north' };
    const filled = { ...missing, sepal_length: 5.8 };
    const out = await score(irisLike, [missing, filled]);
    const p = Array.from(out.probabilities?.data as Float32Array);
    expect(p.slice(0, 3)).toEqual(p.slice(3, 6));
  });

  it('treats an unseen category like a row with no category at all', async () => {
    const unseen = { sepal_length: 6.0, color: 'green', petal_width: 1.0, site: 'east' };
    const out = await score(irisLike, [unseen]);
    const scores = referenceScores(irisLike, unseen);
    // Only the numeric columns and the intercepts contribute.
    expect(designRow(irisLike.features, unseen).slice(2)).toEqual([0, 0, 0, 0, 0]);
    expectClose(out.probabilities?.data as Float32Array, softmax(scores));
  });

  it('exposes one [N, 1] input per raw feature and the label/probabilities outputs', async () => {
    const session = await ort.InferenceSession.create(exportPipeline(irisLike));
    expect(session.inputNames).toEqual(['sepal_length', 'color', 'petal_width', 'site']);
    expect(session.outputNames).toEqual(['label', 'probabilities']);
    expect(session.inputMetadata).toEqual([
      { name: 'sepal_length', isTensor: true, type: 'float32', shape: ['N', 1] },
      { name: 'color', isTensor: true, type: 'string', shape: ['N', 1] },
      { name: 'petal_width', isTensor: true, type: 'float32', shape: ['N', 1] },
      { name: 'site', isTensor: true, type: 'string', shape: ['N', 1] },
    ]);
    expect(session.outputMetadata).toEqual([
      { name: 'label', isTensor: true, type: 'string', shape: ['N'] },
      { name: 'probabilities', isTensor: true, type: 'float32', shape: ['N', 3] },
    ]);
  });

  it('records the graph name, description, producer, opsets and metadata in the file', () => {
    const bytes = exportPipeline(irisLike);
    expect(int64Of(only(bytes, 1))).toBe(8n); // ir_version
    expect(stringOf(only(bytes, 2))).toBe('modelloop'); // producer_name
    const opsets = all(bytes, 8).map((v) => [stringOf(only(bytesOf(v), 1)), int64Of(only(bytesOf(v), 2))]);
    expect(opsets).toEqual([
      ['', 17n],
      ['ai.onnx.ml', 3n],
    ]);
    const graph = bytesOf(only(bytes, 7));
    expect(stringOf(only(graph, 2))).toBe('flowers');
    expect(stringOf(only(graph, 10))).toBe('three species from two measurements, a colour and a site');
    const metadata = Object.fromEntries(
      all(bytes, 14).map((v) => [stringOf(only(bytesOf(v), 1)), stringOf(only(bytesOf(v), 2))]),
    );
    expect(metadata).toEqual({
      'modelloop.model': 'flowers',
      'modelloop.version': '3',
      [METADATA_LABELS]: '["setosa","versicolor","virginica"]',
    });
  });

  it('writes the same bytes for Float32Array and plain-array coefficients', () => {
    if (irisLike.model.kind !== 'linear-classifier') throw new Error('fixture is a classifier');
    const typed: PipelineSpec = {
      ...irisLike,
      model: { ...irisLike.model, coefficients: Float32Array.from(irisLike.model.coefficients) },
    };
    expect(Buffer.from(exportPipeline(typed)).equals(Buffer.from(exportPipeline(irisLike)))).toBe(true);
  });
});

describe('exportPipeline: binary classifier with integer labels', () => {
  const binary: PipelineSpec = {
    name: 'churn',
    features: [
      { kind: 'numeric', name: 'tenure', imputeValue: 12, offset: 12, scale: 0.1 },
      { kind: 'numeric', name: 'spend', imputeValue: 50, offset: 50, scale: 0.02 },
      { kind: 'category', name: 'plan', categories: ['basic', 'pro'] },
    ],
    model: {
      kind: 'linear-classifier',
      // Negative labels too: int64 labels are written as two's-complement varints.
      labels: [-1, 7],
      coefficients: [0.8, -0.3, 0.5, -0.5, -0.8, 0.3, -0.5, 0.5],
      intercepts: [0.1, -0.1],
    },
  };
  const rows: Row[] = [
    { tenure: 1, spend: 90, plan: 'basic' },
    { tenure: 40, spend: 20, plan: 'pro' },
    { tenure: 12, spend: 50, plan: 'pro' },
    { tenure: Number.NaN, spend: 10, plan: 'enterprise' },
  ];

  it('gives a proper two-column softmax over both coefficient rows, and int64 labels', async () => {
    const out = await score(binary, rows);
    const expected = rows.map((r) => softmax(referenceScores(binary, r)));
    expect(out.probabilities?.dims).toEqual([rows.length, 2]);
    const p = out.probabilities?.data as Float32Array;
    expectClose(p, expected.flat());
    for (let i = 0; i < rows.length; i++) {
      expect((p[2 * i] as number) + (p[2 * i + 1] as number)).toBeCloseTo(1, 6);
    }
    expect(out.label?.data).toBeInstanceOf(BigInt64Array);
    const labels = Array.from(out.label?.data as BigInt64Array);
    expect(labels).toEqual(expected.map(([p0, p1]) => ((p1 as number) > (p0 as number) ? 7n : -1n)));
    expect(new Set(labels)).toEqual(new Set([-1n, 7n]));
  });

  it('declares an int64 label output', async () => {
    const session = await ort.InferenceSession.create(exportPipeline(binary));
    expect(session.outputMetadata[0]).toEqual({ name: 'label', isTensor: true, type: 'int64', shape: ['N'] });
    expect(session.outputMetadata[1]).toEqual({
      name: 'probabilities',
      isTensor: true,
      type: 'float32',
      shape: ['N', 2],
    });
  });
});

describe('exportPipeline: regressor', () => {
  const prices: PipelineSpec = {
    name: 'prices',
    features: [
      { kind: 'category', name: 'district', categories: ['centre', 'suburb', 'rural'] },
      { kind: 'numeric', name: 'area', imputeValue: 80, offset: 80, scale: 1 / 25 },
      { kind: 'numeric', name: 'rooms', inputType: 'int64', imputeValue: 3, offset: 3, scale: 1 },
      { kind: 'numeric', name: 'garden', inputType: 'bool', imputeValue: 0, offset: 0.4, scale: 2 },
    ],
    model: {
      kind: 'linear-regressor',
      // Design columns: area, rooms, garden, centre, suburb, rural.
      coefficients: [41.5, 12.25, 3.5, 60, 15, -20],
      intercept: 250,
    },
  };
  const rows: Row[] = [
    { district: 'centre', area: 55, rooms: 2n, garden: false },
    { district: 'rural', area: 140, rooms: 6n, garden: true },
    { district: 'suburb', area: Number.NaN, rooms: 3n, garden: true },
    { district: 'harbour', area: 80, rooms: 4_000_000_000n, garden: false },
  ];

  it('gives coefficients · x + intercept as an [N, 1] variable, casting int64 and bool inputs', async () => {
    const out = await score(prices, rows);
    expect(out.variable?.dims).toEqual([rows.length, 1]);
    expect(out.variable?.type).toBe('float32');
    expectClose(out.variable?.data as Float32Array, rows.map((r) => referenceScores(prices, r)[0] as number));
  });

  it('takes int64 and bool inputs as such, and outputs only variable', async () => {
    const session = await ort.InferenceSession.create(exportPipeline(prices));
    expect(session.inputMetadata.map((m) => (m.isTensor ? [m.name, m.type, m.shape] : [m.name]))).toEqual([
      ['district', 'string', ['N', 1]],
      ['area', 'float32', ['N', 1]],
      ['rooms', 'int64', ['N', 1]],
      ['garden', 'bool', ['N', 1]],
    ]);
    expect(session.outputMetadata).toEqual([{ name: 'variable', isTensor: true, type: 'float32', shape: ['N', 1] }]);
    const metadata = all(exportPipeline(prices), 14).map((v) => stringOf(only(bytesOf(v), 1)));
    expect(metadata).not.toContain(METADATA_LABELS);
  });
});

describe('exportPipeline: pipeline shapes', () => {
  it('works with category features only', async () => {
    const spec: PipelineSpec = {
      name: 'colours',
      features: [{ kind: 'category', name: 'color', categories: ['red', 'blue'] }],
      model: { kind: 'linear-classifier', labels: ['warm', 'cold'], coefficients: [1, -1, -1, 1], intercepts: [0, 0] },
    };
    const rows = [{ color: 'red' }, { color: 'blue' }, { color: 'grey' }];
    const out = await score(spec, rows);
    expect(out.label?.data).toEqual(['warm', 'cold', 'warm']);
    expectClose(out.probabilities?.data as Float32Array, rows.map((r) => softmax(referenceScores(spec, r))).flat());
  });

  it('works with a single numeric feature', async () => {
    const spec: PipelineSpec = {
      name: 'one',
      features: [{ kind: 'numeric', name: 'x', imputeValue: 2, offset: 1, scale: 3 }],
      model: { kind: 'linear-regressor', coefficients: [0.5], intercept: -1 },
    };
    const out = await score(spec, [{ x: 1 }, { x: Number.NaN }, { x: -4 }]);
    expectClose(out.variable?.data as Float32Array, [-1, 0.5, -8.5]);
  });

  it('keeps working when feature names look like the exporter\u2019s own intermediate names', async () => {
    const spec: PipelineSpec = {
      name: 'names',
      features: [
        { kind: 'numeric', name: 'numeric_scaled', imputeValue: 0, offset: 0, scale: 1 },
        { kind: 'numeric', name: 'numeric', imputeValue: 0, offset: 0, scale: 1 },
        { kind: 'numeric', name: 'design_matrix', inputType: 'int64', imputeValue: 0, offset: 0, scale: 1 },
        { kind: 'numeric', name: 'design_matrix_float', imputeValue: 0, offset: 0, scale: 1 },
        { kind: 'category', name: 'c', categories: ['a'] },
        { kind: 'category', name: 'c_onehot', categories: ['b'] },
      ],
      model: { kind: 'linear-regressor', coefficients: [1, 10, 100, 1000, 10000, 100000], intercept: 0 },
    };
    const row = { numeric_scaled: 1, numeric: 2, design_matrix: 3n, design_matrix_float: 4, c: 'a', c_onehot: 'b' };
    const out = await score(spec, [row]);
    expectClose(out.variable?.data as Float32Array, [1 + 20 + 300 + 4000 + 10000 + 100000]);
  });

  it('counts one design column per numeric feature and per known category', () => {
    expect(designMatrixWidth(irisLike.features)).toBe(7);
  });
});

describe('exportPipeline: invalid specs', () => {
  const base = irisLike;
  const classifier = base.model.kind === 'linear-classifier' ? base.model : undefined;
  if (!classifier) throw new Error('fixture is a classifier');
  const withFeature = (i: number, patch: Record<string, unknown>): PipelineSpec => ({
    ...base,
    features: base.features.map((f, j) => (j === i ? ({ ...f, ...patch } as PipelineFeature) : f)),
  });
  const withModel = (patch: Record<string, unknown>): PipelineSpec =>
    ({ ...base, model: { ...classifier, ...patch } }) as PipelineSpec;
  const withCoefficient = (i: number, value: number): PipelineSpec => {
    const coefficients = Array.from(classifier.coefficients);
    coefficients[i] = value;
    return withModel({ coefficients });
  };

  const regressor = (coefficients: number[], intercept: number): PipelineSpec => ({
    ...base,
    model: { kind: 'linear-regressor', coefficients, intercept },
  });
  const zeros = (n: number): number[] => new Array<number>(n).fill(0);

  // [what, spec, path, message]
  const cases: Array<[string, PipelineSpec, string, RegExp]> = [
    [
      'too few coefficients',
      withModel({ coefficients: Array.from(classifier.coefficients).slice(1) }),
      'model.coefficients',
      /has 20 values; expected 21 \(3 classes × 7 design columns\)/,
    ],
    ['too many intercepts', withModel({ intercepts: [0, 0, 0, 0] }), 'model.intercepts', /has 4 values; expected 3/],
    ['empty labels', withModel({ labels: [], coefficients: [], intercepts: [] }), 'model.labels', /is empty/],
    [
      'a single label',
      withModel({ labels: ['only'], coefficients: zeros(7), intercepts: [0] }),
      'model.labels',
      /at least two/,
    ],
    ['mixed label types', withModel({ labels: ['setosa', 2, 'virginica'] }), 'model.labels[1]', /mixes label types/],
    ['fractional labels', withModel({ labels: [0, 1.5, 2] }), 'model.labels[1]', /must be integers, got 1.5/],
    ['duplicate labels', withModel({ labels: ['a', 'b', 'a'] }), 'model.labels[2]', /duplicate label "a"/],
    ['a NaN coefficient', withCoefficient(4, Number.NaN), 'model.coefficients[4]', /finite 32-bit float, got NaN/],
    ['a coefficient beyond float32', withCoefficient(0, 1e39), 'model.coefficients[0]', /finite 32-bit float/],
    [
      'an infinite intercept',
      withModel({ intercepts: [0, Number.POSITIVE_INFINITY, 0] }),
      'model.intercepts[1]',
      /Infinity/,
    ],
    [
      'a duplicate feature name',
      withFeature(2, { name: 'sepal_length' }),
      'features[2].name',
      /duplicate feature name "sepal_length" \(also features\[0\]\)/,
    ],
    [
      'a feature named like an output',
      withFeature(1, { name: 'probabilities' }),
      'features[1].name',
      /"probabilities" clashes with the model output/,
    ],
    ['an empty feature name', withFeature(0, { name: '' }), 'features[0].name', /non-empty/],
    [
      'a NaN scale',
      withFeature(2, { scale: Number.NaN }),
      'features[2].scale',
      /feature "petal_width": scale must be a finite 32-bit float, got NaN/,
    ],
    [
      'an infinite impute value',
      withFeature(0, { imputeValue: Number.NEGATIVE_INFINITY }),
      'features[0].imputeValue',
      /feature "sepal_length"/,
    ],
    [
      'an unknown input type',
      withFeature(0, { inputType: 'double' }),
      'features[0].inputType',
      /feature "sepal_length": inputType must be float, int64 or bool/,
    ],
    [
      'a category feature without categories',
      withFeature(1, { categories: [] }),
      'features[1].categories',
      /feature "color" has no categories/,
    ],
    [
      'a duplicate category',
      withFeature(3, { categories: ['north', 'north'] }),
      'features[3].categories[1]',
      /feature "site": duplicate category "north"/,
    ],
    ['no features', { ...base, features: [] }, 'features', /at least one feature/],
    ['an empty name', { ...base, name: '' }, 'name', /non-empty/],
    [
      'the reserved labels metadata key',
      { ...base, metadata: { [METADATA_LABELS]: '[]' } },
      `metadata.${METADATA_LABELS}`,
      /reserved/,
    ],
    [
      'a regressor with the wrong coefficient count',
      regressor([1, 2], 0),
      'model.coefficients',
      /has 2 values; expected 7/,
    ],
    ['a non-finite regressor intercept', regressor(zeros(7), Number.NaN), 'model.intercept', /finite/],
  ];

  it.each(cases)('rejects %s, naming the field', (_what, spec, path, message) => {
    let thrown: unknown;
    try {
      exportPipeline(spec);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PipelineSpecError);
    expect(thrown).toMatchObject({ code: 'InvalidPipelineSpec', path, message: expect.stringMatching(message) });
    expect((thrown as Error).message.startsWith(`${path}: `)).toBe(true);
  });
});

// CI installs Debian's python3-onnx; a pyenv or venv python3 earlier on PATH may lack it.
const pythonWithOnnx = ['python3', '/usr/bin/python3'].find(
  (python) => spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0,
);
const checkerTitle = pythonWithOnnx
  ? 'passes onnx.checker.check_model(full_check=True) for every pipeline shape'
  : 'passes onnx.checker.check_model(full_check=True) — SKIPPED: no python3 can `import onnx` (apt-get install python3-onnx)';

describe('exportPipeline: the ONNX reference checker', () => {
  it.skipIf(pythonWithOnnx === undefined)(checkerTitle, () => {
    const specs: PipelineSpec[] = [
      irisLike,
      {
        name: 'churn',
        features: [
          { kind: 'numeric', name: 'tenure', inputType: 'int64', imputeValue: 0, offset: 1, scale: 2 },
          { kind: 'numeric', name: 'active', inputType: 'bool', imputeValue: 0, offset: 0, scale: 1 },
        ],
        model: { kind: 'linear-classifier', labels: [0, 1], coefficients: [1, 2, 3, 4], intercepts: [0, 1] },
      },
      {
        name: 'prices',
        features: [{ kind: 'category', name: 'district', categories: ['a', 'b'] }],
        model: { kind: 'linear-regressor', coefficients: [1, 2], intercept: 3 },
      },
    ];
    const dir = mkdtempSync(join(tmpdir(), 'modelloop-onnx-'));
    try {
      const script = [
        'import sys, onnx',
        'for path in sys.argv[1:]:',
        '    onnx.checker.check_model(onnx.load(path), full_check=True)',
        '    print("ok", path)',
      ].join('\n');
      const paths = specs.map((spec) => {
        const path = join(dir, `${spec.name}.onnx`);
        writeFileSync(path, exportPipeline(spec));
        return path;
      });
      const result = spawnSync(pythonWithOnnx as string, ['-c', script, ...paths], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout.trim().split('\n')).toHaveLength(specs.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
