import { beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../../shared/platform/blob-store';
import { deleteAliasByOperator, moveAlias, setAliasByOperator } from '../../../shared/registry/aliases';
import { aliasRecordSchema } from '../../../shared/registry/durable-record';
import { versionLineage } from '../../../shared/registry/lineage';
import { retrain } from '../../../shared/training/retrain';
import { testStack, uniqueModel, type TestStack, modelWithTwoVersions } from '../../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await testStack();
});


/** The stack, with a registry that runs `change` once, just before the first model document write. */
function interfering(change: () => Promise<void>): TestStack {
  let pending = true;
  const registry = new Proxy(stack.registry, {
    get(target, property) {
      if (property === 'replaceModel') {
        return async (doc: Parameters<typeof target.replaceModel>[0]) => {
          if (pending) {
            pending = false;
            await change();
          }
          return target.replaceModel(doc);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { ...stack, registry };
}

async function blobMoves(model: string) {
  return aliasRecordSchema.parse((await stack.blobs.readJson(CONTAINERS.models, `${model}/aliases.json`))!.value);
}

describe('operators moving aliases', () => {
  it('promotes and rolls back, recording who, when, from which version and why', async () => {
    const model = await modelWithTwoVersions(stack, 'ops');
    const promoted = await setAliasByOperator(stack, { model, alias: 'production', operator: 'alice@contoso.com' }, { version: 2, reason: 'challenger won the A/B test' });
    expect(promoted).toMatchObject({
      model,
      alias: 'production',
      version: 2,
      aliases: { production: 2, challenger: 2 },
      changed: true,
      move: { from: 1, to: 2, by: 'user:alice@contoso.com', reason: 'challenger won the A/B test', at: expect.any(String) },
    });
    const rolledBack = await setAliasByOperator(stack, { model, alias: 'production', operator: 'admin' }, { version: 1 });
    expect(rolledBack.move).toMatchObject({ from: 2, to: 1, by: 'user:admin', reason: 'rolled back by an operator' });

    const moves = await stack.registry.listAliasMoves(model);
    expect(moves.map((m) => [m.alias, m.from, m.to, m.by])).toEqual([
      ['production', null, 1, 'system:first-version'],
      ['challenger', null, 2, 'policy:auto'],
      ['production', 1, 2, 'user:alice@contoso.com'],
      ['production', 2, 1, 'user:admin'],
    ]);
    // The durable record agrees move for move, so a rebuild restores the same history.
    expect((await blobMoves(model)).moves.map((m) => m.id)).toEqual(moves.map((m) => m.id));

    // Setting an alias to where it already points changes nothing.
    expect(await setAliasByOperator(stack, { model, alias: 'production', operator: 'admin' }, { version: 1 })).toMatchObject({ changed: false, version: 1 });
    expect(await stack.registry.listAliasMoves(model)).toHaveLength(4);
  });

  it('lets one of two concurrent promotions from the same state win; the other gets Conflict and changes nothing', async () => {
    const model = await modelWithTwoVersions(stack, 'race');
    const seen = (await stack.registry.getModel(model))!._etag!;
    const results = await Promise.allSettled([
      setAliasByOperator(stack, { model, alias: 'production', operator: 'alice', ifMatch: seen }, { version: 2 }),
      setAliasByOperator(stack, { model, alias: 'staging', operator: 'bob', ifMatch: seen }, { version: 2 }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toMatchObject({ code: 'Conflict', status: 409, message: expect.stringMatching(/nothing was changed|was not moved/) });
    const winner = (won[0] as PromiseFulfilledResult<{ alias: string }>).value.alias;
    const loser = winner === 'production' ? 'staging' : 'production';
    const doc = await stack.registry.getModel(model);
    expect(doc!.aliases[winner]).toBe(2);
    expect(doc!.aliases[loser]).toBe(loser === 'production' ? 1 : undefined);
    // Nothing of the losing move was written anywhere.
    expect((await stack.registry.listAliasMoves(model)).filter((m) => m.alias === loser && m.to === 2)).toEqual([]);
    expect((await blobMoves(model)).moves.filter((m) => m.alias === loser && m.to === 2)).toEqual([]);
  });

  it('keeps the record consistent when two promotions race without If-Match', async () => {
    const model = await modelWithTwoVersions(stack, 'race2');
    const before = (await stack.registry.listAliasMoves(model)).length;
    const results = await Promise.allSettled([
      setAliasByOperator(stack, { model, alias: 'production', operator: 'alice' }, { version: 2 }),
      setAliasByOperator(stack, { model, alias: 'canary', operator: 'bob' }, { version: 1 }),
    ]);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'Conflict', message: expect.stringMatching(/nothing was changed/) });
    const applied = results.filter((r) => r.status === 'fulfilled').length;
    expect(applied).toBeGreaterThanOrEqual(1);
    expect((await stack.registry.listAliasMoves(model)).length - before).toBe(applied);
    expect((await blobMoves(model)).moves.length - before).toBe(applied);
    expect((await blobMoves(model)).aliases).toEqual((await stack.registry.getModel(model))!.aliases);
  });

  it("goes through another change to the model that lands between its read and its write, and keeps that change", async () => {
    const model = await modelWithTwoVersions(stack, 'meanwhile');
    // Another writer changes the model document just before this move writes it: a retrain finishing its
    // bookkeeping (no alias), or another operator moving another alias.
    const meanwhile = (alias?: string) => interfering(async () => {
      if (alias) await setAliasByOperator(stack, { model, alias, operator: 'bob' }, { version: 2 });
      else {
        const doc = (await stack.registry.getModel(model))!;
        await stack.registry.replaceModel({ ...doc, updatedAt: new Date().toISOString() });
      }
    });

    expect(await setAliasByOperator(meanwhile(), { model, alias: 'production', operator: 'alice' }, { version: 2 })).toMatchObject({ version: 2, move: { from: 1, to: 2 } });
    expect(await setAliasByOperator(meanwhile('staging'), { model, alias: 'production', operator: 'alice' }, { version: 1 })).toMatchObject({ version: 1, move: { from: 2, to: 1 } });
    expect((await stack.registry.getModel(model))!.aliases).toMatchObject({ production: 1, staging: 2 });
    expect(await deleteAliasByOperator(meanwhile('canary'), { model, alias: 'staging', operator: 'alice' })).toMatchObject({ version: null, move: { from: 2, to: null } });
    expect((await stack.registry.getModel(model))!.aliases).toEqual({ production: 1, challenger: 2, canary: 2 });
    expect((await blobMoves(model)).aliases).toEqual((await stack.registry.getModel(model))!.aliases);
  });

  it('refuses with Conflict, and changes nothing, when the same alias moved between its read and its write', async () => {
    const model = await modelWithTwoVersions(stack, 'same-alias');
    const before = (await stack.registry.listAliasMoves(model)).length;
    // Production is at 1; bob removes it while alice is promoting 2.
    const otherOperator = interfering(() => deleteAliasByOperator(stack, { model, alias: 'production', operator: 'bob' }).then(() => undefined));
    await expect(setAliasByOperator(otherOperator, { model, alias: 'production', operator: 'alice' }, { version: 2 })).rejects.toMatchObject({
      code: 'Conflict',
      status: 409,
      message: expect.stringMatching(/"production" of model "[^"]+" was changed by another request while this one was changing it; nothing was changed by this request/),
    });
    expect((await stack.registry.getModel(model))!.aliases.production).toBeUndefined();
    // Only bob's removal is recorded.
    expect((await stack.registry.listAliasMoves(model)).slice(before).map((m) => [m.from, m.to, m.by])).toEqual([[1, null, 'user:bob']]);
    expect((await blobMoves(model)).aliases).toEqual((await stack.registry.getModel(model))!.aliases);
  });

  it('removes an alias, and refuses one that does not exist, a bad body and an unregistered version', async () => {
    const model = await modelWithTwoVersions(stack, 'remove');
    expect(await deleteAliasByOperator(stack, { model, alias: 'challenger', operator: 'admin' })).toMatchObject({ version: null, aliases: { production: 1 }, move: { from: 2, to: null } });
    await expect(deleteAliasByOperator(stack, { model, alias: 'challenger', operator: 'admin' })).rejects.toMatchObject({ code: 'VersionNotFound', message: /no alias "challenger"; its aliases are: production/ });
    await expect(setAliasByOperator(stack, { model, alias: 'production', operator: 'admin' }, { version: 'two' })).rejects.toMatchObject({ code: 'InvalidInput', message: /version/ });
    await expect(setAliasByOperator(stack, { model, alias: 'Prod!', operator: 'admin' }, { version: 1 })).rejects.toMatchObject({ code: 'InvalidInput', message: /Alias "Prod!" is not valid/ });
    await expect(setAliasByOperator(stack, { model, alias: 'production', operator: 'admin' }, { version: 9 })).rejects.toMatchObject({ code: 'VersionNotFound', message: /no registered version 9/ });
    await expect(moveAlias(stack, { model: uniqueModel('none'), alias: 'production', version: 1, by: 'user:x', reason: 'x' })).rejects.toMatchObject({ code: 'ModelNotFound' });
  });
});

describe('lineage', () => {
  it('leads from a version to its run, its datasets with their reports, and its alias moves', async () => {
    const model = await modelWithTwoVersions(stack, 'lineage');
    const version = (await stack.registry.getVersion(model, 2))!;
    const lineage = await versionLineage(stack.registry, version);
    expect(lineage).toMatchObject({
      source: 'trained',
      run: { key: version.runKey, status: 'succeeded', version: 2, promotion: { decision: 'challenger', by: 'policy:auto' } },
      datasets: [{ datasetId: version.datasets[0], files: ['data.csv'], status: 'accepted', report: `reports/${model}/${version.datasets[0]}.json` }],
      aliasMoves: [{ alias: 'challenger', from: null, to: 2, by: 'policy:auto' }],
    });
    expect(await stack.blobs.readJson(CONTAINERS.reports, `${model}/${version.datasets[0]}.json`)).toBeDefined();
  });
});
