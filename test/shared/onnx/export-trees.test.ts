import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportPipeline, PipelineSpecError } from '../../../shared/onnx/export-pipeline';
import type { DecisionTree, PipelineSpec } from '../../../shared/onnx/pipeline-spec';

/** One split on design column `feature` at `threshold`: left leaf `l`, right leaf `r`. */
function stump(feature: number, threshold: number, l: number, r: number, options: { categorical?: boolean; missingLeft?: boolean; target?: number } = {}): DecisionTree {
  return {
    target: options.target ?? 0,
    feature: Int32Array.from([feature, -1, -1]),
    threshold: Float32Array.from([threshold, 0, 0]),
    categorical: Uint8Array.from([options.categorical ? 1 : 0, 0, 0]),
    left: Int32Array.from([1, -1, -1]),
    right: Int32Array.from([2, -1, -1]),
    missingLeft: Uint8Array.from([options.missingLeft ? 1 : 0, 0, 0]),
    value: Float32Array.from([0, l, r]),
  };
}

const features = [
  { kind: 'numeric' as const, name: 'x', imputeValue: 0, offset: 0, scale: 1 },
  { kind: 'category' as const, name: 'colour', categories: ['red', 'blue'] },
];

async function score(spec: PipelineSpec, x: number[], colour: string[]) {
  const session = await ort.InferenceSession.create(exportPipeline(spec));
  return session.run({
    x: new ort.Tensor('float32', Float32Array.from(x), [x.length, 1]),
    colour: new ort.Tensor('string', colour, [colour.length, 1]),
  });
}

const sigmoid = (s: number): number => 1 / (1 + Math.exp(-s));

describe('exportPipeline: tree ensembles', () => {
  it('scores two classes as a sigmoid even when every leaf weight is positive', async () => {
    const spec: PipelineSpec = {
      name: 'positive',
      features,
      model: { kind: 'tree-ensemble-classifier', labels: ['no', 'yes'], baseScores: [-1], trees: [stump(0, 0.5, 0.25, 2)] },
    };
    const out = await score(spec, [0, 1], ['red', 'red']);
    const p = out.probabilities!.data as Float32Array;
    expect(p[1]!).toBeCloseTo(sigmoid(-1 + 0.25), 6);
    expect(p[3]!).toBeCloseTo(sigmoid(-1 + 2), 6);
    expect(p[0]! + p[1]!).toBeCloseTo(1, 6);
    expect(Array.from(out.label!.data as string[])).toEqual(['no', 'yes']);
  });

  it('routes missing numbers by the learned direction and unseen or missing categories as missing', async () => {
    const spec: PipelineSpec = {
      name: 'routes',
      features,
      model: {
        kind: 'tree-ensemble-regressor',
        baseScores: [10],
        trees: [stump(0, 0.5, 1, 2, { missingLeft: true }), stump(1, 1, 100, 200, { categorical: true, missingLeft: false })],
      },
    };
    const out = await score(spec, [0, 1, Number.NaN, 1], ['blue', 'red', 'green', '']);
    // x: 0 → left (1), 1 → right (2), NaN → left (1). colour: blue (code 1) → left (100); red, unseen, missing → right (200).
    expect(Array.from(out.variable!.data as Float32Array)).toEqual([111, 212, 211, 212]);
  });

  it('gives integer labels back as int64 for more than two classes', async () => {
    const spec: PipelineSpec = {
      name: 'three',
      features,
      model: {
        kind: 'tree-ensemble-classifier',
        labels: [3, 5, 7],
        baseScores: [0, 0, 0],
        trees: [stump(0, 0.5, 2, -2, { target: 0 }), stump(0, 0.5, -2, 2, { target: 2 }), stump(0, 0.5, 0, 0, { target: 1 })],
      },
    };
    const out = await score(spec, [0, 1], ['red', 'red']);
    expect(Array.from(out.label!.data as BigInt64Array)).toEqual([3n, 7n]);
  });

  const bad: [string, Partial<DecisionTree>, string, RegExp][] = [
    ['a split on a column the design does not have', { feature: Int32Array.from([5, -1, -1]) }, 'model.trees[0].feature[0]', /below 2, got 5/],
    ['a child that is not a later node', { left: Int32Array.from([0, -1, -1]) }, 'model.trees[0].left[0]', /later nodes/],
    ['a non-finite leaf', { value: Float32Array.from([0, Number.NaN, 1]) }, 'model.trees[0].value[1]', /finite/],
    ['arrays of different lengths', { threshold: Float32Array.from([0]) }, 'model.trees[0].threshold', /expected 3/],
  ];
  it.each(bad)('rejects %s, naming the field', (_what, change, path, message) => {
    const spec: PipelineSpec = { name: 'bad', features, model: { kind: 'tree-ensemble-regressor', baseScores: [0], trees: [{ ...stump(0, 0.5, 1, 2), ...change }] } };
    expect(() => exportPipeline(spec)).toThrow(PipelineSpecError);
    expect(() => exportPipeline(spec)).toThrow(expect.objectContaining({ code: 'InvalidPipelineSpec', path, message: expect.stringMatching(message) }));
  });
});
