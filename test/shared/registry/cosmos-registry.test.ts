import { describe, expect, it } from 'vitest';
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
