import { describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../../shared/platform/blob-store';
import { moveAlias, removeAlias } from '../../../shared/registry/aliases';
import type { Registry } from '../../../shared/registry/registry';
import { defineModel } from '../../../shared/registry/define-model';
import { rebuildRegistry } from '../../../shared/registry/rebuild';
import { retrain } from '../../../shared/training/retrain';
import { drainRetrainRequests } from '../../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel } from '../../support/stack';

describe('rebuilding the registry from blob storage', () => {
  it('restores models, versions, aliases and datasets into an empty registry', async () => {
    const live = await testStack();
    const model = uniqueModel('rebuild');
    await defineModel(live, model, { task: 'classification', target: 'label' });
    await dropFile(live, model, 'a.csv', separableCsv(60, 1));
    await dropFile(live, model, 'bad.csv', 'x1\n1\n');
    await dropFile(live, model, 'b.csv', separableCsv(60, 2));
    const requests = (await drainRetrainRequests(live.storageConnection, live.queueName)).filter((r) => r.model === model);
    const deps = { ...live, timeBudgetSeconds: 60, holdoutFraction: 0.2 };
    for (const request of requests) await retrain(deps, request);
    await moveAlias(live, { model, alias: 'production', version: 2, by: 'user:test', reason: 'better' });
    await moveAlias(live, { model, alias: 'challenger', version: 1, by: 'user:test', reason: 'compare' });
    // A version whose artifact was never written must not come back.
    await live.blobs.writeJson(CONTAINERS.models, `${model}/3/manifest.json`, { half: 'done' });

    const restarted = await testStack({ storageConnection: live.storageConnection });
    const summary = await rebuildRegistry(restarted.blobs, restarted.registry);
    expect(summary.skipped.some((s) => s.includes(`${model}/3/manifest.json`))).toBe(true);

    const before = await live.registry.getModel(model);
    const after = await restarted.registry.getModel(model);
    expect(after).toMatchObject({ definition: before!.definition, contract: before!.contract, aliases: { production: 2, challenger: 1 } });
    // Version 3 was started, so it is never handed out again.
    expect(after!.latestVersion).toBe(3);
    expect((await restarted.registry.listVersions(model)).map((v) => [v.version, v.metrics.accuracy])).toEqual(
      (await live.registry.listVersions(model)).map((v) => [v.version, v.metrics.accuracy]),
    );
    const datasets = await restarted.registry.listDatasets(model);
    expect(datasets.map((d) => [d.files[0], d.status]).sort()).toEqual([['a.csv', 'accepted'], ['b.csv', 'accepted'], ['bad.csv', 'rejected']]);
  });

  it('gives back the same registry: model, versions, every alias move and datasets', async () => {
    const live = await testStack();
    const model = uniqueModel('same');
    await defineModel(live, model, { task: 'classification', target: 'label' });
    await dropFile(live, model, 'a.csv', separableCsv(60, 1));
    await dropFile(live, model, 'b.csv', separableCsv(60, 2));
    const deps = { ...live, timeBudgetSeconds: 60, holdoutFraction: 0.2 };
    for (const request of (await drainRetrainRequests(live.storageConnection, live.queueName)).filter((r) => r.model === model)) await retrain(deps, request);
    await moveAlias(live, { model, alias: 'production', version: 2, by: 'user:ops', reason: 'promote' });
    await moveAlias(live, { model, alias: 'production', version: 1, by: 'user:ops', reason: 'roll back' });
    await removeAlias(live, { model, alias: 'challenger', by: 'user:ops', reason: 'done comparing' });

    const restarted = await testStack({ storageConnection: live.storageConnection });
    await rebuildRegistry(restarted.blobs, restarted.registry);
    expect(await snapshot(restarted.registry, model)).toEqual(await snapshot(live.registry, model));
    expect((await restarted.registry.listAliasMoves(model)).map((m) => [m.alias, m.from, m.to, m.by])).toEqual([
      ['production', null, 1, 'system:first-version'],
      ['challenger', null, 2, 'policy:auto'],
      ['production', 1, 2, 'user:ops'],
      ['production', 2, 1, 'user:ops'],
      ['challenger', 2, null, 'user:ops'],
    ]);
  });
});

/** Everything the registry holds about a model except working state (runs, the lease) and Cosmos system fields. */
async function snapshot(registry: Registry, model: string) {
  const clean = (doc: object) => Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));
  const { updatedAt: _u, ...doc } = clean((await registry.getModel(model))!) as Record<string, unknown>;
  return {
    model: doc,
    versions: (await registry.listVersions(model)).map(clean),
    aliasMoves: (await registry.listAliasMoves(model)).map(clean),
    datasets: (await registry.listDatasets(model)).map(clean),
  };
}
