import { beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../../../shared/platform/blob-store';
import { defineModel } from '../../../../shared/registry/define-model';
import { importModel, importReportPath, type ImportDeps, type ImportReport } from '../../../../shared/registry/import/import-model';
import { inspectModel } from '../../../../shared/registry/import/inspect-model';
import { rebuildRegistry } from '../../../../shared/registry/rebuild';
import { drainRetrainRequests } from '../../../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel, type TestStack } from '../../../support/stack';
import { externalData, hugeDeclaredTensor, linearClassifier, memoryBomb, plainAdd } from './onnx-fixtures';

let stack: TestStack;
let deps: ImportDeps;

beforeAll(async () => {
  stack = await testStack();
  deps = { ...stack, holdoutFraction: 0.2, isolation: { memoryBytes: 400 * 1024 * 1024, timeoutMs: 20_000 } };
});

/** A classification model on separableCsv with one accepted drop (its data contract). */
async function modelWithContract(prefix: string, promotion?: { policy: 'auto' | 'manual'; minImprovement?: number }) {
  const model = uniqueModel(prefix);
  await defineModel(stack, model, { task: 'classification', target: 'label', ...(promotion ? { promotion } : {}) });
  await dropFile(stack, model, 'data.csv', separableCsv(200));
  await drainRetrainRequests(stack.storageConnection, stack.queueName);
  return model;
}

async function drop(model: string, file: string, bytes: Uint8Array, sidecar?: unknown) {
  if (sidecar !== undefined) await stack.blobs.writeJson(CONTAINERS.modelsIncoming, `${model}/${file.replace(/\.onnx$/, '.json')}`, sidecar);
  await stack.blobs.write(CONTAINERS.modelsIncoming, `${model}/${file}`, bytes);
  return importModel(deps, { model, file, bytes });
}

async function reportOf(model: string, file: string): Promise<ImportReport> {
  return (await stack.blobs.readJson(CONTAINERS.modelsIncoming, importReportPath(model, file)))?.value as ImportReport;
}

describe('importing an ONNX file', () => {
  it('evaluates an import on the holdout and lets the auto policy promote it over a worse production', async () => {
    const model = await modelWithContract('byo');
    const weak = await drop(model, 'weak.onnx', linearClassifier('x2'), { notes: 'a first try' });
    expect(weak).toMatchObject({ kind: 'registered', version: 1, report: { promotion: { decision: 'production', by: 'system:first-version' } } });

    const strong = await drop(model, 'strong.onnx', linearClassifier('x1'), { labels: ['no', 'yes'], metrics: { accuracy: 0.99 }, notes: 'tuned in a notebook' });
    expect(strong.kind).toBe('registered');
    const report = await reportOf(model, 'strong.onnx');
    expect(report).toMatchObject({ status: 'registered', version: 2, servesPredict: true, evaluation: { evaluated: true, rows: 40 } });
    expect(report.promotion).toMatchObject({ decision: 'production', by: 'policy:auto', metric: 'accuracy', candidate: 1, rows: 40 });
    expect(report.promotion!.production!).toBeLessThan(0.9);

    expect((await stack.registry.getModel(model))?.aliases).toEqual({ production: 2 });
    const version = await stack.registry.getVersion(model, 2);
    expect(version).toMatchObject({
      source: 'imported',
      trainer: 'imported:modelloop',
      labels: ['no', 'yes'],
      importedFrom: `models-incoming/${model}/strong.onnx`,
      notes: 'tuned in a notebook',
      servesPredict: true,
      metrics: { accuracy: 1, 'reported.accuracy': 0.99 },
    });
    expect(version!.inputs.map((i) => [i.name, i.type, i.featureType])).toEqual([
      ['x1', 'float', 'number'],
      ['x2', 'float', 'number'],
      ['color', 'string', 'category'],
    ]);
    const moves = await stack.registry.listAliasMoves(model);
    expect(moves.at(-1)).toMatchObject({ alias: 'production', from: 1, to: 2, by: 'policy:auto', reason: expect.stringMatching(/^accuracy 1 vs production version 1's 0\.\d+ on the same 40 evaluation rows: better by/) });

    // The same bytes again, under any name: nothing new.
    expect(await drop(model, 'copy-of-strong.onnx', linearClassifier('x1'))).toEqual({ kind: 'duplicate', version: 2 });
  });

  it('keeps a worse import as challenger', async () => {
    const model = await modelWithContract('byo-worse');
    await drop(model, 'strong.onnx', linearClassifier('x1'));
    await drop(model, 'weak.onnx', linearClassifier('x2'));
    expect((await stack.registry.getModel(model))?.aliases).toEqual({ production: 1, challenger: 2 });
    expect((await reportOf(model, 'weak.onnx')).promotion).toMatchObject({ decision: 'challenger', reason: expect.stringMatching(/not better by minImprovement 0/) });
  });

  it('registers an import whose inputs do not match the contract without evaluating it, serving through V2 only', async () => {
    const model = uniqueModel('byo-other');
    await defineModel(stack, model, { task: 'regression', target: 'y' });
    const outcome = await drop(model, 'add.onnx', plainAdd());
    expect(outcome).toMatchObject({ kind: 'registered', version: 1, report: { servesPredict: false, evaluation: { evaluated: false, reason: expect.stringMatching(/no data contract/) } } });
    expect(await stack.registry.getVersion(model, 1)).toMatchObject({ inputs: [{ name: 'X', type: 'float', shape: [-1, 1] }], servesPredict: false });
  });

  it('rebuilds imported versions from blob storage like trained ones', async () => {
    const model = await modelWithContract('byo-rebuild');
    await drop(model, 'strong.onnx', linearClassifier('x1'));
    const restarted = await testStack({ storageConnection: stack.storageConnection });
    await rebuildRegistry(restarted.blobs, restarted.registry);
    const { _etag: _a, ...before } = (await stack.registry.getVersion(model, 1))!;
    const { _etag: _b, ...after } = (await restarted.registry.getVersion(model, 1))!;
    expect(strip(after)).toEqual(strip(before));
  });
});

describe('refusing hostile ONNX files', () => {
  const cases: [string, () => Uint8Array, string, RegExp][] = [
    ['a truncated file', () => linearClassifier('x1').slice(0, 300), 'Malformed', /truncated/],
    ['tensor data in an external file', externalData, 'ExternalData', /external file \("\.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow"\)/],
    ['a tensor declaring 10^12 elements', hugeDeclaredTensor, 'HugeTensor', /\[1000000, 1000000\] = 1000000000000 elements/],
    ['an operator from an unknown domain', () => plainAdd({ domain: 'com.evil' }), 'UnknownDomain', /com\.evil/],
    ['opset 18', () => plainAdd({ opset: 18 }), 'UnsupportedOpset', /opset 18 is not supported; export with opset ≤ 17/],
    ['random bytes', () => Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256), 'Malformed', /not a readable ONNX model|not an ONNX model/],
  ];
  for (const [what, build, code, message] of cases) {
    it(`refuses ${what} before loading it, with a report beside it`, async () => {
      const model = await modelWithContract('hostile');
      const outcome = await drop(model, 'bad.onnx', build());
      expect(outcome.kind).toBe('refused');
      const report = await reportOf(model, 'bad.onnx');
      expect(report.status).toBe('refused');
      expect(report.refusals![0]).toMatchObject({ code, message: expect.stringMatching(message) });
      expect(await stack.registry.listVersions(model)).toEqual([]);
      expect((await stack.registry.getModel(model))?.latestVersion).toBe(0);
    });
  }

  it('stops a file that exhausts memory in the isolated process, and this process carries on', async () => {
    const model = uniqueModel('bomb');
    await defineModel(stack, model, { task: 'regression', target: 'y' });
    expect(inspectModel(memoryBomb()).ok).toBe(true);
    const outcome = await importModel({ ...deps, isolation: { memoryBytes: 300 * 1024 * 1024, timeoutMs: 30_000 } }, { model, file: 'bomb.onnx', bytes: memoryBomb() });
    expect(outcome).toMatchObject({ kind: 'refused', report: { refusals: [{ code: 'MemoryLimit', message: expect.stringMatching(/used more than 300 MiB of memory and was stopped/) }] } });
    // The importing process is unharmed: a well-behaved import right after works.
    const next = await modelWithContract('after-bomb');
    expect((await drop(next, 'ok.onnx', linearClassifier('x1'))).kind).toBe('registered');
  });

  it('stops a load that takes longer than its time limit', async () => {
    const model = uniqueModel('slow');
    await defineModel(stack, model, { task: 'regression', target: 'y' });
    const outcome = await importModel({ ...deps, isolation: { memoryBytes: 400 * 1024 * 1024, timeoutMs: 1 } }, { model, file: 'slow.onnx', bytes: plainAdd() });
    expect(outcome).toMatchObject({ kind: 'refused', report: { refusals: [{ code: 'Timeout', message: expect.stringMatching(/did not finish within 0.001 s/) }] } });
  });
});

function strip<T extends Record<string, unknown>>(doc: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));
}
