import { beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../../shared/platform/blob-store';
import type { IngestDeps } from '../../../shared/data/ingest-drop';
import { defineModel } from '../../../shared/registry/define-model';
import { manifestSchema } from '../../../shared/registry/manifest';
import { retrain, type RetrainDeps } from '../../../shared/training/retrain';
import { drainRetrainRequests } from '../../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel, type TestStack } from '../../support/stack';

let stack: TestStack;
let ingest: IngestDeps;
let deps: RetrainDeps;

beforeAll(async () => {
  stack = await testStack();
  ingest = { ...stack, maxDropBytes: 1024 * 1024 };
  deps = { ...stack, timeBudgetSeconds: 60, holdoutFraction: 0.2 };
});

async function modelWithData(prefix: string, csv = separableCsv(100)) {
  const model = uniqueModel(prefix);
  await defineModel(ingest, model, { task: 'classification', target: 'label' });
  await dropFile(stack, model, 'data.csv', csv);
  const [request] = (await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model);
  return { model, request: request! };
}

describe('retrain', () => {
  it('registers version 1 with artifact and manifest, and points production at it', async () => {
    const { model, request } = await modelWithData('first');
    const outcome = await retrain(deps, request);
    expect(outcome).toEqual({ kind: 'registered', version: 1, promoted: true });

    const doc = await stack.registry.getModel(model);
    expect(doc).toMatchObject({ aliases: { production: 1 }, latestVersion: 1 });
    const version = await stack.registry.getVersion(model, 1);
    expect(version).toMatchObject({ version: 1, source: 'trained', trainer: 'logistic-regression', labels: ['no', 'yes'], primaryMetric: 'accuracy' });
    expect(version?.metrics.accuracy).toBe(1);
    expect(await stack.blobs.read(CONTAINERS.models, `${model}/1/model.onnx`)).toBeDefined();
    const manifest = manifestSchema.parse((await stack.blobs.readJson(CONTAINERS.models, `${model}/1/manifest.json`))?.value);
    expect(manifest).toMatchObject({ model, version: 1, datasets: request.datasets, runKey: request.key });
    expect(Object.keys(manifest.featureStats)).toEqual(['x1', 'x2', 'color', 'amount']);
    const aliases = await stack.blobs.readJson(CONTAINERS.models, `${model}/aliases.json`);
    expect(aliases?.value).toMatchObject({ aliases: { production: 1 }, moves: [{ alias: 'production', from: null, to: 1, by: 'system:first-version' }] });
  });

  it('trains once per idempotency key, however often the request arrives', async () => {
    const { model, request } = await modelWithData('idem');
    expect((await retrain(deps, request)).kind).toBe('registered');
    expect((await retrain(deps, request)).kind).toBe('duplicate');
    expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1]);
  });

  it('keeps production on the first version when a second one is trained', async () => {
    const { model, request } = await modelWithData('second');
    await retrain(deps, request);
    const outcome = await retrain(deps, { ...request, reason: 'manual', key: `manual:${model}:again` });
    expect(outcome).toEqual({ kind: 'registered', version: 2, promoted: false });
    expect((await stack.registry.getModel(model))?.aliases).toEqual({ production: 1 });
  });

  it('records a failed training on the run and leaves the served model untouched', async () => {
    const { model, request } = await modelWithData('fails');
    await retrain(deps, request);
    // A second drop whose rows all carry one label: the window of one drop cannot train a classifier.
    await defineModel(ingest, model, { task: 'classification', target: 'label', training: { window: { maxRows: 3 } } });
    await dropFile(stack, model, 'one-label.csv', 'x1,x2,color,label,amount\n1,2,red,yes,3\n2,2,red,yes,3\n3,2,red,yes,3\n');
    const [next] = (await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model);
    const outcome = await retrain(deps, next!);
    expect(outcome).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/at least two labels/) });
    expect((await stack.registry.getModel(model))?.aliases).toEqual({ production: 1 });
    expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1]);
  });

  it('skips a request for a model without accepted data', async () => {
    const model = uniqueModel('nodata');
    await defineModel(ingest, model, { task: 'regression', target: 'y' });
    const outcome = await retrain(deps, { model, reason: 'manual', requestedAt: new Date().toISOString(), key: `manual:${model}:1` });
    expect(outcome).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/no accepted data/) });
  });
});
