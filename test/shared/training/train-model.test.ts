import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../../shared/data/csv';
import { inferContract } from '../../../shared/data/data-contract';
import type { ModelDefinition } from '../../../shared/data/model-definition';
import { datasetIdOf } from '../../../shared/data/ingest-drop';
import { runTraining } from '../../../shared/training/run-training';
import { trainCandidates, trainModel, type Prepared, type TrainingJob } from '../../../shared/training/train-model';
import type { TrainingTable } from '../../../shared/training/design-matrix';
import { predictPipeline } from '../../../shared/training/predict-pipeline';
import { mulberry32 } from '../../../shared/training/split';
import { exportPipeline } from '../../../shared/onnx/export-pipeline';
import { separableCsv } from '../../support/stack';

const control = { progress: () => {}, cancelled: () => false };

function job(definition: ModelDefinition, csvs: string[]): TrainingJob {
  const datasets = csvs.map((csv, i) => ({ datasetId: datasetIdOf(Buffer.from(csv)), file: `drop-${i}.csv`, bytes: Buffer.from(csv) }));
  return {
    model: 'm',
    definition,
    contract: inferContract(parseCsv(datasets[0]!.bytes), definition, datasets[0]!.datasetId),
    datasets,
    seed: 7,
    holdoutFraction: 0.2,
  };
}

async function score(onnx: Uint8Array, rows: Record<string, number | string | null>[], inputs: { name: string; type: string }[]) {
  const session = await ort.InferenceSession.create(onnx);
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) {
    feeds[input.name] =
      input.type === 'string'
        ? new ort.Tensor('string', rows.map((r) => String(r[input.name] ?? '')), [rows.length, 1])
        : new ort.Tensor('float32', Float32Array.from(rows, (r) => (r[input.name] === null ? NaN : Number(r[input.name]))), [rows.length, 1]);
  }
  return session.run(feeds);
}

describe('trainModel', () => {
  it('learns separable classes and exports a pipeline that predicts the original labels', async () => {
    const result = trainModel(job({ task: 'classification', target: 'label' }, [separableCsv(200)]), control);
    expect(result.labels).toEqual(['no', 'yes']);
    expect(result.metrics.accuracy).toBe(1);
    expect(result.trainingRows + result.evaluationRows).toBe(200);
    expect(result.inputs.map((i) => `${i.name}:${i.type}`)).toEqual(['x1:float', 'x2:float', 'amount:float', 'color:string']);
    expect(result.outputs.map((o) => o.name)).toEqual(['label', 'probabilities']);
    const out = await score(result.onnx, [
      { x1: 5, x2: 3, amount: 2, color: 'red' },
      { x1: -5, x2: 3, amount: -28, color: 'blue' },
      { x1: 5.2, x2: null, amount: 1, color: 'purple' },
    ], result.inputs);
    expect(Array.from(out.label!.data as string[])).toEqual(['yes', 'no', 'yes']);
    const p = out.probabilities!.data as Float32Array;
    expect(p[1]!).toBeGreaterThan(0.9);
    expect(p[0]! + p[1]!).toBeCloseTo(1, 5);
  });

  it('fits a regression and serves values close to the truth', async () => {
    const result = trainModel(job({ task: 'regression', target: 'amount' }, [separableCsv(300)]), control);
    expect(result.metrics.r2).toBeGreaterThan(0.99);
    const out = await score(result.onnx, [{ x1: 5, x2: 3, color: 'red', label: 'yes' }], result.inputs);
    expect((out.variable!.data as Float32Array)[0]!).toBeCloseTo(3 * 5 - 2 * 3 + 7, 0);
  });

  it('trains the same bytes from the same data and definition', () => {
    const a = trainModel(job({ task: 'classification', target: 'label' }, [separableCsv(120)]), control);
    const b = trainModel(job({ task: 'classification', target: 'label' }, [separableCsv(120)]), control);
    expect(Buffer.from(a.onnx).equals(Buffer.from(b.onnx))).toBe(true);
  });

  it('trains on every accepted drop, newest first, up to the window', () => {
    const twoDrops = trainModel(job({ task: 'classification', target: 'label' }, [separableCsv(50, 1), separableCsv(70, 2)]), control);
    expect(twoDrops.trainingRows + twoDrops.evaluationRows).toBe(120);
    expect(twoDrops.datasets).toHaveLength(2);
    const windowed = trainModel(job({ task: 'classification', target: 'label', training: { window: { maxRows: 60 } } }, [separableCsv(50, 1), separableCsv(70, 2)]), control);
    expect(windowed.trainingRows + windowed.evaluationRows).toBe(60);
  });

  it('refuses a classification with a single label, saying which', () => {
    const csv = 'x,y\n1,a\n2,a\n3,a\n';
    expect(() => trainModel(job({ task: 'classification', target: 'y' }, [csv]), control)).toThrow(/at least two labels.*"a"/);
  });

  it('runs in a worker thread and reports progress', async () => {
    const messages: string[] = [];
    const result = await runTraining(job({ task: 'classification', target: 'label' }, [separableCsv(100)]), {
      timeBudgetMs: 60_000,
      onProgress: (m) => messages.push(m),
    });
    expect(result.metrics.accuracy).toBe(1);
    expect(messages.some((m) => /logistic regression on \d+ rows/.test(m))).toBe(true);
  });

  it('stops a cancelled run with a clear error', async () => {
    const controller = new AbortController();
    const run = runTraining(job({ task: 'classification', target: 'label' }, [separableCsv(20000)]), {
      timeBudgetMs: 60_000,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(run).rejects.toThrow(/cancelled/);
  });

  it('stops a run that exceeds its time budget with a clear error', async () => {
    await expect(runTraining(job({ task: 'classification', target: 'label' }, [separableCsv(20000)]), { timeBudgetMs: 1 })).rejects.toThrow(/time budget/);
  });
});

/** A table with every feature type, missing numbers and categories, and a target of each task. */
function mixedCsv(rows: number, seed: number): string {
  const random = mulberry32(seed);
  const shades = ['a', 'b', 'c', 'd', 'e'];
  const lines = ['num,count,flag,shade,label,kind,value'];
  for (let i = 0; i < rows; i++) {
    const num = random() * 6 - 3;
    const missingNum = random() < 0.1;
    const count = Math.floor(random() * 10);
    const flag = random() < 0.5;
    const shade = shades[Math.floor(random() * shades.length)]!;
    const missingShade = random() < 0.1;
    const score = (missingNum ? 1.5 : num) + (flag ? 1 : -1) + (shade === 'c' ? 2 : 0) - count / 5 + random() - 0.5;
    const label = score > 0 ? 'yes' : 'no';
    const kind = score < -1 ? 'low' : score < 1 ? 'mid' : 'high';
    lines.push(`${missingNum ? '' : num.toFixed(3)},${count},${flag},${missingShade ? '' : shade},${label},${kind},${(score * 3).toFixed(3)}`);
  }
  return lines.join('\n') + '\n';
}

/** A job on `mixedCsv` whose features leave out the other tasks' targets. */
function mixedJob(definition: ModelDefinition, csv: string): TrainingJob {
  const training = job(definition, [csv]);
  const others = ['label', 'kind', 'value'].filter((c) => c !== definition.target);
  const features = Object.fromEntries(Object.entries(training.contract.features).filter(([name]) => !others.includes(name)));
  return { ...training, contract: { ...training.contract, features } };
}

/** Rows to score: the evaluation rows plus rows with an unseen category and missing values. */
function probeTable(prepared: Prepared): TrainingTable {
  const { table, split } = prepared;
  const extra = [
    { num: NaN, count: 3, flag: 1, shade: 'never-seen' },
    { num: 1.25, count: 0, flag: 0, shade: null },
    { num: NaN, count: 9, flag: 0, shade: null },
    { num: -2.5, count: 5, flag: 1, shade: 'never-seen' },
  ];
  const columns: Record<string, Float64Array | (string | null)[]> = {};
  for (const name of ['num', 'count', 'flag']) {
    const source = table.columns[name] as Float64Array;
    columns[name] = Float64Array.from([...Array.from(split.evaluation, (r) => source[r]!), ...extra.map((e) => e[name as 'num'])]);
  }
  const shade = table.columns.shade as (string | null)[];
  columns.shade = [...Array.from(split.evaluation, (r) => shade[r] ?? null), ...extra.map((e) => e.shade)];
  return { rows: split.evaluation.length + extra.length, columns, target: [] };
}

describe('every trainer, every task: the exported graph predicts what the trainer predicts', () => {
  const cases = [
    ['classification', 'label', 'gbdt'],
    ['classification', 'label', 'linear'],
    ['classification', 'kind', 'gbdt'],
    ['classification', 'kind', 'linear'],
    ['regression', 'value', 'gbdt'],
    ['regression', 'value', 'linear'],
  ] as const;

  it.each(cases)('%s of %s with %s, including missing values and unseen categories', async (task, target, trainer) => {
    const { prepared, fitted } = trainCandidates(mixedJob({ task, target, trainers: [trainer] }, mixedCsv(600, 3)), control);
    expect(fitted).toHaveLength(1);
    const spec = fitted[0]!.spec;
    const probe = probeTable(prepared);
    const expected = predictPipeline(spec, probe, Int32Array.from({ length: probe.rows }, (_, i) => i));
    const session = await ort.InferenceSession.create(exportPipeline(spec));
    const feeds: Record<string, ort.Tensor> = {};
    for (const feature of spec.features) {
      const column = probe.columns[feature.name]!;
      feeds[feature.name] =
        feature.kind === 'category'
          ? new ort.Tensor('string', (column as (string | null)[]).map((v) => v ?? ''), [probe.rows, 1])
          : new ort.Tensor('float32', Float32Array.from(column as Float64Array), [probe.rows, 1]);
    }
    const out = await session.run(feeds);
    let worst = 0;
    if (task === 'regression') {
      const values = out.variable!.data as Float32Array;
      // float32 outputs: compare relative to the value's size.
      for (let i = 0; i < probe.rows; i++) worst = Math.max(worst, Math.abs(values[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
    } else {
      const probabilities = out.probabilities!.data as Float32Array;
      for (let i = 0; i < probabilities.length; i++) worst = Math.max(worst, Math.abs(probabilities[i]! - expected[i]!));
      const labels = prepared.labels!;
      const predicted = Array.from({ length: probe.rows }, (_, i) => {
        let best = 0;
        for (let k = 1; k < labels.length; k++) if (expected[i * labels.length + k]! > expected[i * labels.length + best]!) best = k;
        return labels[best];
      });
      expect(Array.from(out.label!.data as string[])).toEqual(predicted);
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('records every candidate and chooses the best by the primary metric', () => {
    const result = trainModel(mixedJob({ task: 'classification', target: 'kind', primaryMetric: 'logloss' }, mixedCsv(800, 4)), control);
    expect(result.candidates.map((c) => c.trainer)).toEqual(['logistic-regression', 'gradient-boosted-trees']);
    for (const candidate of result.candidates) expect(Object.keys(candidate.metrics).sort()).toEqual(['accuracy', 'f1', 'logloss']);
    const best = Math.min(...result.candidates.map((c) => c.metrics.logloss!));
    expect(result.metrics.logloss).toBe(best);
    expect(result.candidates.find((c) => c.trainer === result.trainer)!.metrics).toEqual(result.metrics);
    expect(result.candidates[1]!.params).toMatchObject({ learningRate: 0.1, maxLeaves: 31, seed: 7 });
  });

  it('picks gradient-boosted trees where the signal is not linear', () => {
    const random = mulberry32(9);
    const lines = ['x,y,label'];
    for (let i = 0; i < 1200; i++) {
      const x = random() * 4 - 2;
      const y = random() * 4 - 2;
      lines.push(`${x.toFixed(3)},${y.toFixed(3)},${x * y > 0 ? 'same' : 'opposite'}`);
    }
    const result = trainModel(job({ task: 'classification', target: 'label' }, [lines.join('\n')]), control);
    expect(result.trainer).toBe('gradient-boosted-trees');
    expect(result.metrics.accuracy).toBeGreaterThan(0.9);
    expect(result.candidates.find((c) => c.trainer === 'logistic-regression')!.metrics.accuracy).toBeLessThan(0.7);
  });
});
