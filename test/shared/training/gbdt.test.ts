import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportPipeline } from '../../../shared/onnx/export-pipeline';
import type { PipelineSpec } from '../../../shared/onnx/pipeline-spec';
import { fitGbdt, predictGbdt, type GbdtData, type GbdtModel, type GbdtObjective } from '../../../shared/training/gbdt';
import { mulberry32 } from '../../../shared/training/split';

const COLORS = ['red', 'green', 'blue', 'black'];

/** Two numeric features (with missing values) and one category; `unseen` rows use a colour never trained on. */
function table(rows: number, seed: number, objective: GbdtObjective, unseen = false) {
  const random = mulberry32(seed);
  const a = new Float64Array(rows);
  const b = new Float64Array(rows);
  const color = new Float64Array(rows);
  const colorNames: (string | null)[] = [];
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    a[i] = random() * 4 - 2;
    b[i] = random() < 0.15 ? NaN : random() * 10;
    const c = Math.floor(random() * COLORS.length);
    const missingColor = random() < 0.1;
    color[i] = missingColor || unseen ? NaN : c;
    colorNames.push(missingColor ? null : unseen ? 'purple' : COLORS[c]!);
    // Missing b carries signal, so the learned default direction matters.
    const score = 1.5 * a[i]! + (Number.isNaN(b[i]!) ? 2 : 0.2 * b[i]! - 1) + (c === 2 ? 1.5 : 0) + (random() - 0.5);
    y[i] = objective === 'regression' ? score : objective === 'binary' ? (score > 0.5 ? 1 : 0) : score < 0 ? 0 : score < 1.5 ? 1 : 2;
  }
  const data: GbdtData = { rows, columns: [a, b, color], categorical: [false, false, true] };
  return { data, y, raw: { a, b, color: colorNames } };
}

function specOf(model: GbdtModel, labels?: string[]): PipelineSpec {
  return {
    name: 'gbdt-test',
    features: [
      { kind: 'numeric', name: 'a', imputeValue: 0, offset: 0, scale: 1 },
      { kind: 'numeric', name: 'b', imputeValue: 0, offset: 0, scale: 1 },
      { kind: 'category', name: 'color', categories: COLORS },
    ],
    model: labels
      ? { kind: 'tree-ensemble-classifier', labels, baseScores: model.baseScores, trees: model.trees }
      : { kind: 'tree-ensemble-regressor', baseScores: model.baseScores, trees: model.trees },
  };
}

async function run(onnx: Uint8Array, raw: ReturnType<typeof table>['raw']) {
  const session = await ort.InferenceSession.create(onnx);
  const n = raw.a.length;
  return session.run({
    a: new ort.Tensor('float32', Float32Array.from(raw.a), [n, 1]),
    b: new ort.Tensor('float32', Float32Array.from(raw.b), [n, 1]),
    // Serving feeds a missing category as the empty string.
    color: new ort.Tensor('string', raw.color.map((c) => c ?? ''), [n, 1]),
  });
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('fitGbdt and its ONNX export', () => {
  const cases: [GbdtObjective, string[] | undefined][] = [
    ['regression', undefined],
    ['binary', ['no', 'yes']],
    ['multiclass', ['low', 'mid', 'high']],
  ];

  it.each(cases)('%s: ONNX Runtime gives the in-memory predictions, for missing values and unseen categories too', async (objective, labels) => {
    const train = table(2000, 1, objective);
    const model = fitGbdt(train.data, train.y, { objective, classes: labels?.length, rounds: 30, maxLeaves: 15, minSamplesLeaf: 5, seed: 3 });
    expect(model.trees.length).toBe(30 * (objective === 'multiclass' ? 3 : 1));
    const onnx = exportPipeline(specOf(model, labels));
    for (const rows of [table(300, 2, objective), table(50, 4, objective, true)]) {
      const expected = predictGbdt(model, rows.data);
      const out = await run(onnx, rows.raw);
      if (!labels) {
        expect(maxDifference(out.variable!.data as Float32Array, expected)).toBeLessThan(1e-5);
        continue;
      }
      expect(maxDifference(out.probabilities!.data as Float32Array, expected)).toBeLessThan(1e-5);
      const predicted = Array.from({ length: rows.data.rows }, (_, i) => {
        let best = 0;
        for (let k = 1; k < labels.length; k++) if (expected[i * labels.length + k]! > expected[i * labels.length + best]!) best = k;
        return labels[best];
      });
      expect(Array.from(out.label!.data as string[])).toEqual(predicted);
    }
  });

  it('learns the signal, including the one carried by missing values', () => {
    const train = table(3000, 5, 'binary');
    const test = table(1000, 6, 'binary');
    const model = fitGbdt(train.data, train.y, { objective: 'binary', rounds: 60, seed: 1 });
    const p = predictGbdt(model, test.data);
    let correct = 0;
    for (let i = 0; i < test.data.rows; i++) if ((p[i * 2 + 1]! > 0.5 ? 1 : 0) === test.y[i]) correct++;
    expect(correct / test.data.rows).toBeGreaterThan(0.85);
  });

  it('is deterministic: the same seed and data give the same model bytes', () => {
    const train = table(1500, 7, 'multiclass');
    const options = { objective: 'multiclass' as const, classes: 3, rounds: 10, rowSubsample: 0.7, featureSubsample: 0.7, seed: 11 };
    const first = exportPipeline(specOf(fitGbdt(train.data, train.y, options), ['low', 'mid', 'high']));
    const second = exportPipeline(specOf(fitGbdt(train.data, train.y, options), ['low', 'mid', 'high']));
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(true);
    const other = exportPipeline(specOf(fitGbdt(train.data, train.y, { ...options, seed: 12 }), ['low', 'mid', 'high']));
    expect(Buffer.from(first).equals(Buffer.from(other))).toBe(false);
  });

  it('lowers the training loss from the first round on, with quantised gradients choosing the splits', () => {
    const train = table(5_000, 23, 'binary');
    const losses: number[] = [];
    fitGbdt(train.data, train.y, { objective: 'binary', rounds: 5, seed: 4, onRound: (_, loss) => losses.push(loss) > 0 });
    const p = train.y.reduce((sum, v) => sum + v, 0) / train.data.rows;
    const baseLoss = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
    // One tree at learning rate 0.1 on a clear signal takes a visible bite out of the base loss.
    expect(losses[0]!).toBeLessThan(baseLoss - 0.02);
    for (let r = 1; r < losses.length; r++) expect(losses[r]!).toBeLessThan(losses[r - 1]!);
  });

  it('builds the same model with a helper thread as without one', () => {
    const train = table(40_000, 13, 'binary');
    const options = { objective: 'binary' as const, rounds: 3, seed: 2 };
    const one = exportPipeline(specOf(fitGbdt(train.data, train.y, { ...options, threads: 1 }), ['no', 'yes']));
    const two = exportPipeline(specOf(fitGbdt(train.data, train.y, { ...options, threads: 2 }), ['no', 'yes']));
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
  });

  it('scores the training rows through their leaves exactly as routing them down the trees does, for any feature count and thread count', () => {
    // 3 + 6 features: whole 4-byte words of bins and a partial one; an odd row count leaves one row unpaired.
    const base = table(20_001, 21, 'binary');
    const random = mulberry32(22);
    const extra = Array.from({ length: 6 }, () => Float64Array.from({ length: base.data.rows }, () => (random() < 0.05 ? NaN : random() * 2 - 1)));
    const data: GbdtData = { rows: base.data.rows, columns: [...base.data.columns, ...extra], categorical: [...base.data.categorical, ...extra.map(() => false)] };
    const fit = (threads: number) => {
      const losses: number[] = [];
      const model = fitGbdt(data, base.y, { objective: 'binary', rounds: 6, seed: 3, threads, onRound: (_, loss) => losses.push(loss) > 0 });
      return { model, losses };
    };
    const { model, losses } = fit(1);
    const p = predictGbdt(model, data);
    let loss = 0;
    for (let i = 0; i < data.rows; i++) loss -= Math.log(base.y[i] === 1 ? p[2 * i + 1]! : p[2 * i]!);
    expect(losses).toHaveLength(6);
    expect(losses[5]!).toBeCloseTo(loss / data.rows, 6);
    expect(losses[5]!).toBeLessThan(losses[0]!);
    const bytes = (m: GbdtModel) => JSON.stringify(m.trees.map((t) => [t.feature, t.threshold, t.left, t.right, t.missingLeft, t.value].map((a) => Array.from(a))));
    expect(bytes(fit(2).model)).toBe(bytes(model));
  });

  it('stops early when the validation loss stops improving, keeping the best round', () => {
    const train = table(1000, 8, 'regression');
    const validation = table(500, 9, 'regression');
    const model = fitGbdt(train.data, train.y, { objective: 'regression', rounds: 500, learningRate: 0.5, earlyStoppingRounds: 5, seed: 1 }, validation);
    expect(model.stoppedEarly).toBe(true);
    expect(model.rounds).toBe(model.bestRound + 5);
    expect(model.trees.length).toBe(model.bestRound);
  });

  it('honours maxLeaves, maxDepth and minSamplesLeaf', () => {
    const train = table(2000, 10, 'regression');
    const model = fitGbdt(train.data, train.y, { objective: 'regression', rounds: 5, maxLeaves: 8, maxDepth: 2, minSamplesLeaf: 300 });
    for (const tree of model.trees) {
      const leaves = Array.from(tree.left).filter((l) => l < 0).length;
      expect(leaves).toBeLessThanOrEqual(4);
      expect(leaves).toBeGreaterThan(1);
    }
  });

  it('rejects a target outside the classes and mismatched columns, saying where', () => {
    const train = table(100, 14, 'binary');
    const y = Float64Array.from(train.y);
    y[7] = 2;
    expect(() => fitGbdt(train.data, y, { objective: 'binary' })).toThrow(/data: target of row 7 is 2; expected a class index below 2/);
    const short = { ...train.data, columns: [train.data.columns[0]!, new Float64Array(5), train.data.columns[2]!] };
    expect(() => fitGbdt(short, train.y, { objective: 'binary' })).toThrow(/column 1 has 5 values, expected 100 rows/);
  });

  it('stops when onRound says so (cancellation, time budget)', () => {
    const train = table(500, 12, 'binary');
    const model = fitGbdt(train.data, train.y, { objective: 'binary', rounds: 100, onRound: (round) => round < 3 });
    expect(model.rounds).toBe(3);
    expect(model.trees).toHaveLength(3);
  });
});

const pythonWithOnnx = ['python3', '/usr/bin/python3'].find(
  (python) => spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0,
);

describe('tree pipelines: the ONNX reference checker', () => {
  it.skipIf(pythonWithOnnx === undefined)('pass onnx.checker.check_model(full_check=True)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelloop-gbdt-'));
    try {
      const paths = cases().map(([name, spec]) => {
        const path = join(dir, `${name}.onnx`);
        writeFileSync(path, exportPipeline(spec));
        return path;
      });
      const script = ['import sys, onnx', 'for path in sys.argv[1:]:', '    onnx.checker.check_model(onnx.load(path), full_check=True)'].join('\n');
      const result = spawnSync(pythonWithOnnx as string, ['-c', script, ...paths], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function cases(): [string, PipelineSpec][] {
  const out: [string, PipelineSpec][] = [];
  for (const [objective, labels] of [['regression', undefined], ['binary', ['no', 'yes']], ['multiclass', ['low', 'mid', 'high']]] as const) {
    const train = table(500, 1, objective);
    const model = fitGbdt(train.data, train.y, { objective, classes: labels?.length, rounds: 3 });
    out.push([objective, specOf(model, labels ? [...labels] : undefined)]);
  }
  return out;
}
