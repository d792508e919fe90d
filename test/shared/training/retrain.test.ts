import { beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../../shared/platform/blob-store';
import type { IngestDeps } from '../../../shared/data/ingest-drop';
import { defineModel } from '../../../shared/registry/define-model';
import { manifestSchema } from '../../../shared/registry/manifest';
import { moveAlias } from '../../../shared/registry/aliases';
import { retrain, runIdOf, type RetrainDeps, type RetrainStage } from '../../../shared/training/retrain';
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
    expect(outcome).toEqual({ kind: 'registered', version: 1, promoted: true, alias: 'production' });
    const run = await stack.registry.getRun(model, runIdOf(request.key));
    expect(run).toMatchObject({ status: 'succeeded', version: 1, progress: expect.stringMatching(/\S/) });

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

  it('makes a second version that is no better the challenger, and says why', async () => {
    const { model, request } = await modelWithData('second');
    await retrain(deps, request);
    const outcome = await retrain(deps, { ...request, reason: 'manual', key: `manual:${model}:again` });
    expect(outcome).toEqual({ kind: 'registered', version: 2, promoted: false, alias: 'challenger' });
    expect((await stack.registry.getModel(model))?.aliases).toEqual({ production: 1, challenger: 2 });
    const moves = await stack.registry.listAliasMoves(model);
    expect(moves.map((m) => [m.alias, m.from, m.to, m.by])).toEqual([
      ['production', null, 1, 'system:first-version'],
      ['challenger', null, 2, 'policy:auto'],
    ]);
    expect(moves[1]!.reason).toMatch(/accuracy 1 vs production version 1's 1 on the same 20 evaluation rows: not better/);
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

/** Rows whose label has nothing to do with the features: a model trained on them guesses. */
function noiseCsv(rows: number): string {
  const lines = ['x1,x2,color,label,amount'];
  for (let i = 0; i < rows; i++) {
    const x1 = ((i * 7919) % 1000) / 100 - 5;
    const label = (i * 2654435761) % 7 < 3 ? 'yes' : 'no';
    lines.push(`${x1.toFixed(2)},${(i % 10) + 0.25},${i % 3 ? 'red' : 'blue'},${label},${(i % 5) + 0.5}`);
  }
  return lines.join('\n') + '\n';
}

const request = (model: string, key: string) => ({ model, reason: 'manual' as const, requestedAt: new Date().toISOString(), key: `manual:${model}:${key}` });

describe('one training at a time per model', () => {
  it('folds a request that arrives during a run into one follow-up run: never lost, never run twice', async () => {
    const { model, request: first } = await modelWithData('fold');
    const second = request(model, 'second');
    const outcomes = await Promise.all([retrain(deps, first), retrain(deps, second)]);
    const folded = outcomes.filter((o) => o.kind === 'folded');
    const ran = outcomes.find((o) => o.kind === 'registered');
    expect(folded).toHaveLength(1);
    expect(ran).toMatchObject({ kind: 'registered', version: 1, followUps: [{ kind: 'registered', version: 2 }] });
    expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1, 2]);

    // Both keys are settled now: delivering them again trains nothing.
    expect((await retrain(deps, first)).kind).toBe('duplicate');
    expect((await retrain(deps, second)).kind).toBe('duplicate');
    expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1, 2]);
    expect(await stack.registry.getLease(model)).toMatchObject({ holder: '', followUp: [] });
  });

  it('runs the same message delivered twice at once only once; the other copy is retried and then settles as a duplicate', async () => {
    const { model, request: first } = await modelWithData('twice');
    const outcomes = await Promise.allSettled([retrain(deps, first), retrain(deps, first)]);
    const ran = outcomes.filter((o) => o.status === 'fulfilled');
    const retried = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(ran.map((o) => (o as PromiseFulfilledResult<{ kind: string }>).value.kind)).toEqual(['registered']);
    expect(retried[0]!.reason).toMatchObject({ code: 'Conflict', message: expect.stringMatching(/being run by another delivery.*will be retried/) });
    expect((await retrain(deps, first)).kind).toBe('duplicate');
    expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1]);
  });

  it('takes over the lease of a holder that died, and runs for the requests folded under it', async () => {
    const { model, request: first } = await modelWithData('dead');
    const past = new Date(Date.now() - 1000).toISOString();
    await stack.registry.createLease({ id: 'lease', type: 'lease', model, holder: 'run-dead', token: 't', expiresAt: past, followUp: [{ key: `manual:${model}:lost`, reason: 'manual' }] });
    const outcome = await retrain(deps, first);
    expect(outcome).toMatchObject({ kind: 'registered', version: 1, followUps: [{ kind: 'registered', version: 2 }] });
    const followUp = (await stack.registry.getVersion(model, 2))!.runKey!;
    expect(await stack.registry.getRun(model, runIdOf(followUp))).toMatchObject({ status: 'succeeded', covers: [`manual:${model}:lost`] });
  });
});

describe('a crash while registering', () => {
  for (const stage of ['artifact-written', 'manifest-written'] as const) {
    it(`shows no half version after a crash once the ${stage.replace('-', ' ')}, and the retry completes it`, async () => {
      const { model, request: first } = await modelWithData(`crash-${stage.slice(0, 5)}`);
      const crash = { ...deps, onStage: (at: RetrainStage) => { if (at === stage) throw new Error(`simulated crash: ${at}`); } };
      await expect(retrain(crash, first)).rejects.toThrow(/simulated crash/);

      expect(await stack.registry.listVersions(model)).toEqual([]);
      expect(await stack.registry.getVersion(model, 1)).toBeUndefined();
      expect((await stack.registry.getModel(model))?.aliases).toEqual({});
      expect(await stack.blobs.read(CONTAINERS.models, `${model}/1/model.onnx`)).toBeDefined();

      const outcome = await retrain(deps, first);
      expect(outcome).toMatchObject({ kind: 'registered', version: 1, alias: 'production' });
      expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1]);
      expect((await stack.registry.getModel(model))?.latestVersion).toBe(1);
      expect((await retrain(deps, first)).kind).toBe('duplicate');
    });
  }
});

describe('the promotion policy', () => {
  async function noisyThenClean(prefix: string, promotion?: object) {
    const model = uniqueModel(prefix);
    await defineModel(ingest, model, { task: 'classification', target: 'label', training: { window: { maxRows: 200 } }, ...(promotion ? { promotion } : {}) });
    await dropFile(stack, model, 'noise.csv', noiseCsv(200));
    await retrain(deps, request(model, 'noise'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await dropFile(stack, model, 'clean.csv', separableCsv(200, 7))).toMatchObject({ kind: 'judged', dataset: { status: 'accepted' } });
    await drainRetrainRequests(stack.storageConnection, stack.queueName);
    return { model, outcome: await retrain(deps, request(model, 'clean')) };
  }

  it('auto: moves production to a version that beats it on the same evaluation rows', async () => {
    const { model, outcome } = await noisyThenClean('auto');
    expect(outcome).toMatchObject({ kind: 'registered', version: 2, promoted: true, alias: 'production' });
    const run = await stack.registry.getRun(model, runIdOf(`manual:${model}:clean`));
    expect(run?.promotion).toMatchObject({ decision: 'production', by: 'policy:auto', metric: 'accuracy', candidate: 1, rows: 40 });
    expect(run!.promotion!.production).toBeLessThan(0.8);
    const moves = await stack.registry.listAliasMoves(model);
    expect(moves.at(-1)).toMatchObject({ alias: 'production', from: 1, to: 2, by: 'policy:auto', reason: expect.stringMatching(/better by/) });
  });

  it('auto: keeps production when the new version is not better by minImprovement', async () => {
    const { model, outcome } = await noisyThenClean('minimp', { policy: 'auto', minImprovement: 0.9 });
    expect(outcome).toMatchObject({ alias: 'challenger' });
    expect((await stack.registry.getModel(model))?.aliases).toEqual({ production: 1, challenger: 2 });
  });

  it('manual: never moves production by itself', async () => {
    const { model, outcome } = await noisyThenClean('manual', { policy: 'manual' });
    expect(outcome).toMatchObject({ alias: 'challenger' });
    expect((await stack.registry.getModel(model))?.aliases).toEqual({ production: 1, challenger: 2 });
    expect((await stack.registry.listAliasMoves(model)).at(-1)).toMatchObject({ by: 'policy:manual', reason: expect.stringMatching(/only when an operator moves it/) });
  });
});

describe('retention', () => {
  it('keeps the newest N versions without an alias, and never an aliased one', async () => {
    const { model, request: first } = await modelWithData('retain');
    const keepOne = { ...deps, retainVersions: 1 };
    await retrain(keepOne, first);
    for (const key of ['2', '3', '4']) await retrain(keepOne, request(model, key));
    // production 1 and challenger 4 are aliased; of 2 and 3 only the newest is kept.
    expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1, 3, 4]);
    expect((await stack.registry.getModel(model))).toMatchObject({ aliases: { production: 1, challenger: 4 }, retired: [2] });
    expect(await stack.blobs.read(CONTAINERS.models, `${model}/2/model.onnx`)).toBeUndefined();
    expect(await stack.blobs.read(CONTAINERS.models, `${model}/2/manifest.json`)).toBeUndefined();
    await expect(moveAlias(stack, { model, alias: 'production', version: 2, by: 'user:test', reason: 'x' })).rejects.toMatchObject({ code: 'VersionNotFound' });
  });
});
