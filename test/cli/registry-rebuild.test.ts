import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { moveAlias } from '../../shared/registry/aliases';
import { defineModel } from '../../shared/registry/define-model';
import { retrain } from '../../shared/training/retrain';
import { drainRetrainRequests } from '../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel } from '../support/stack';

const root = join(__dirname, '..', '..');

describe('modelloop registry rebuild', () => {
  it('rebuilds an empty registry from blob storage', async () => {
    const live = await testStack();
    const model = uniqueModel('cli-rebuild');
    await defineModel(live, model, { task: 'classification', target: 'label' });
    await dropFile(live, model, 'data.csv', separableCsv(60));
    const [request] = (await drainRetrainRequests(live.storageConnection, live.queueName)).filter((r) => r.model === model);
    const deps = { ...live, timeBudgetSeconds: 60, holdoutFraction: 0.2 };
    await retrain(deps, request!);
    await retrain(deps, { ...request!, key: `${request!.key}:2` });
    await moveAlias(live, { model, alias: 'production', version: 2, by: 'user:ops', reason: 'promote' });

    const database = `cli-${randomUUID().slice(0, 8)}`;
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'dist', 'cli', 'modelloop.js'), '--json', 'registry', 'rebuild'], {
      cwd: root,
      env: { ...process.env, AzureWebJobsStorage: inject('storageConnection'), COSMOS_ENDPOINT: inject('cosmosEndpoint'), COSMOS_KEY: inject('cosmosKey'), COSMOS_DATABASE: database },
    });
    const summary = JSON.parse(stdout) as { models: number; versions: number };
    expect(summary.models).toBeGreaterThanOrEqual(1);
    expect(summary.versions).toBeGreaterThanOrEqual(2);

    const rebuilt = await testStack({ database });
    expect(await rebuilt.registry.getModel(model)).toMatchObject({ aliases: { production: 2, challenger: 2 }, latestVersion: 2 });
    expect((await rebuilt.registry.listAliasMoves(model)).map((m) => [m.alias, m.to, m.by])).toEqual([
      ['production', 1, 'system:first-version'],
      ['challenger', 2, 'policy:auto'],
      ['production', 2, 'user:ops'],
    ]);
  });
});
