import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../../shared/data/csv';
import { inferContract } from '../../../shared/data/data-contract';
import type { ModelDefinition } from '../../../shared/data/model-definition';
import { datasetIdOf } from '../../../shared/data/ingest-drop';
import { runTraining } from '../../../shared/training/run-training';
import { trainModel, type TrainingJob } from '../../../shared/training/train-model';
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

  it('stops a run that exceeds its time budget with a clear error', async () => {
    await expect(runTraining(job({ task: 'classification', target: 'label' }, [separableCsv(20000)]), { timeBudgetMs: 1 })).rejects.toThrow(/time budget/);
  });
});
