import { randomUUID } from 'node:crypto';
import { CosmosClient } from '@azure/cosmos';
import { describe, expect, inject, it } from 'vitest';
import { CosmosRegistry } from '../../../shared/registry/cosmos-registry';
import type { ModelDocument } from '../../../shared/registry/documents';
import { moveAlias } from '../../../shared/registry/aliases';
import { testStack, uniqueModel } from '../../support/stack';

const modelDoc = (model: string): ModelDocument => ({
  id: 'model',
  type: 'model',
  model,
  definition: { task: 'regression', target: 'y' },
  aliases: {},
  latestVersion: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

describe('CosmosRegistry', () => {
  it('says the registry is new only when it created its container: a new database, or a database whose container is gone', async () => {
    const database = `init-${randomUUID().slice(0, 8)}`;
    const registryOn = (): CosmosRegistry => new CosmosRegistry({ endpoint: inject('cosmosEndpoint'), key: inject('cosmosKey'), database, container: 'registry' });
    const first = registryOn();
    expect(await first.initialise()).toBe(true);
    const model = uniqueModel('init');
    await first.createModel(modelDoc(model));

    const restarted = registryOn();
    expect(await restarted.initialise()).toBe(false);
    expect((await restarted.getModel(model))?.model).toBe(model);

    await new CosmosClient({ endpoint: inject('cosmosEndpoint'), key: inject('cosmosKey'), connectionPolicy: { enableEndpointDiscovery: false } }).database(database).container('registry').delete();
    const afterLoss = registryOn();
    expect(await afterLoss.initialise()).toBe(true);
    expect(await afterLoss.getModel(model)).toBeUndefined();
  });

  it('refuses a second create and a stale replace with Conflict', async () => {
    const { registry } = await testStack();
    const model = uniqueModel('etag');
    const created = await registry.createModel(modelDoc(model));
    await expect(registry.createModel(modelDoc(model))).rejects.toMatchObject({ code: 'Conflict' });
    const first = await registry.replaceModel({ ...created, latestVersion: 1 });
    expect(first.latestVersion).toBe(1);
    await expect(registry.replaceModel({ ...created, latestVersion: 2 })).rejects.toMatchObject({ code: 'Conflict', message: expect.stringMatching(/changed by another request/) });
    expect((await registry.getModel(model))?.latestVersion).toBe(1);
  });

  it('validates documents on the way in', async () => {
    const { registry } = await testStack();
    await expect(registry.createModel({ ...modelDoc(uniqueModel('bad')), latestVersion: -1 })).rejects.toThrow();
  });

  it('refuses to point an alias at a version that is not registered', async () => {
    const stack = await testStack();
    const model = uniqueModel('alias');
    await stack.registry.createModel(modelDoc(model));
    await expect(moveAlias(stack, { model, alias: 'production', version: 1, by: 'user:test', reason: 'x' })).rejects.toMatchObject({ code: 'VersionNotFound' });
    expect((await stack.registry.getModel(model))?.aliases).toEqual({});
  });
});
