import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../host/emulators';
import { call as callStack, eventually as waitFor, root, startLocalStackProcess, type LocalStackProcess } from '../support/local-stack';

/**
 * The README's walkthrough, as a user runs it: the whole stack started by `node dist/host/start.js`
 * (what `npm start` runs), driven over HTTP, the Storage API and the CLI, then stopped and started
 * again on the same data.
 */
const churn = readFileSync(join(root, 'examples', 'churn.csv'));
const run = promisify(execFile);

let stack: LocalStackProcess;
const base = () => stack.url;
const call = (method: string, path: string, body?: unknown, contentType?: string) => callStack(stack.url, method, path, body, contentType);
const eventually = <T>(what: string, probe: () => Promise<T | undefined>, seconds = 60) => waitFor(what, probe, seconds, () => stack.output());

beforeAll(async () => {
  stack = await startLocalStackProcess();
}, 150_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('the README walkthrough', () => {
  it('defines a model, takes a CSV drop, trains version 1 and serves right predictions', async () => {
    const defined = await call('PUT', '/models/churn', { task: 'classification', target: 'churned' });
    expect(defined.status).toBe(201);

    const upload = await call('PUT', '/datasets/churn/churn.csv', churn, 'text/csv');
    expect(upload.status).toBe(202);
    expect(upload.json).toMatchObject({ blob: 'datasets/churn/churn.csv', status: 'received' });

    const model = await eventually('version 1 of churn', async () => {
      const { json } = await call('GET', '/models/churn');
      return json?.aliases?.production === 1 ? json : undefined;
    }, 30);
    expect(model.versions).toEqual([expect.objectContaining({ version: 1, aliases: ['production'], trainer: 'logistic-regression' })]);

    const reply = await call('POST', '/models/churn/predict', {
      instances: [
        { tenure_months: 2, monthly_charges: 95.5, contract: 'month-to-month', support_calls: 6, paperless: true },
        { tenure_months: 60, monthly_charges: 25.0, contract: 'two-year', support_calls: 0, paperless: false },
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ model: 'churn', version: 1, predictions: ['yes', 'no'] });
    expect(reply.json.probabilities[0].yes).toBeGreaterThan(0.9);

    // Every row of the (separable) example comes back with its own label, ids and all.
    const lines = churn.toString().trim().split('\n');
    const header = lines[0]!.split(',');
    const rows = lines.slice(1).map((line) => Object.fromEntries(line.split(',').map((cell, i) => [header[i]!, cell])));
    const instances = rows.map((r) => ({
      customer_id: Number(r.customer_id),
      tenure_months: Number(r.tenure_months),
      monthly_charges: Number(r.monthly_charges),
      contract: r.contract,
      support_calls: Number(r.support_calls),
      paperless: r.paperless === 'true',
    }));
    const all = await call('POST', '/models/churn/predict', { instances });
    const correct = all.json.predictions.filter((p: string, i: number) => p === rows[i]!.churned).length;
    expect(correct / rows.length).toBeGreaterThan(0.97);
  });

  it('trains once for the same file dropped again under another name, by any Storage client', async () => {
    const blobs = BlobServiceClient.fromConnectionString(azuriteConnectionString(stack.ports.blob, stack.ports.queue));
    await blobs.getContainerClient('datasets').getBlockBlobClient('churn/churn-copy.csv').uploadData(churn);
    const dataset = await eventually('the copy to be recognised', async () => {
      const { json } = await call('GET', '/models/churn/datasets');
      const found = json?.datasets?.find((d: { files: string[] }) => d.files.includes('churn-copy.csv'));
      return found;
    });
    expect(dataset.files).toEqual(['churn.csv', 'churn-copy.csv']);
    const again = await call('PUT', '/datasets/churn/churn.csv', churn, 'text/csv');
    expect(again.json.status).toBe('accepted');
    // Once the re-upload has been handed to the function and both queues are empty, still one version.
    const etag = (await blobs.getContainerClient('datasets').getBlobClient('churn/churn.csv').getProperties()).etag!;
    const receipts = blobs.getContainerClient('azure-webjobs-hosts');
    await eventually('the re-upload to be taken by the blob trigger', async () => {
      for await (const receipt of receipts.listBlobsFlat({ prefix: 'blobreceipts/', includeMetadata: true })) {
        if (receipt.name.endsWith('/datasets/churn/churn.csv') && receipt.name.includes(etag.replace(/"/g, '')) && !receipt.metadata?.incomplete) return true;
      }
      return undefined;
    });
    const connection = azuriteConnectionString(stack.ports.blob, stack.ports.queue);
    for (const name of ['azure-webjobs-blobtrigger-modelloop-local', 'retrain-requests']) {
      const queue = new QueueClient(connection, name);
      await eventually(`queue ${name} to be empty`, async () => ((await queue.getProperties()).approximateMessagesCount === 0 ? true : undefined));
    }
    const { json } = await call('GET', '/models/churn');
    expect(json.latestVersion).toBe(1);
  });

  it('answers bad input with a clear JSON error and keeps running', async () => {
    const bad = await call('PUT', '/models/broken', { task: 'clustering' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'InvalidDefinition', error: expect.stringMatching(/task: must be "classification" or "regression".*target: is required/) });

    const unknown = await call('POST', '/models/nope/predict', { instances: [{}] });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: 'ModelNotFound', error: expect.stringMatching(/"nope" is not defined/) });

    const notJson = await call('POST', '/models/churn/predict', '{"instances": [', 'application/json');
    expect(notJson.status).toBe(400);
    expect(notJson.json.code).toBe('InvalidInput');

    await call('PUT', '/datasets/churn/no-target.csv', 'tenure_months,monthly_charges\n3,50\n', 'text/csv');
    const rejected = await eventually('the drop without a target to be judged', async () => {
      const { json } = await call('GET', '/models/churn/datasets');
      return json?.datasets?.find((d: { files: string[] }) => d.files.includes('no-target.csv'));
    });
    expect(rejected).toMatchObject({ status: 'rejected', code: 'SchemaViolation', message: expect.stringMatching(/"churned".*missing.*target/) });
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('does the same from the CLI', async () => {
    const cli = (...args: string[]) => run(process.execPath, [join(root, 'dist', 'cli', 'modelloop.js'), '--url', base(), ...args], { cwd: root });
    await cli('define', 'churn-cli', '--task', 'classification', '--target', 'churned');
    const upload = await cli('upload', join(root, 'examples', 'churn.csv'), '--model', 'churn-cli', '--timeout', '60');
    expect(upload.stdout).toMatch(/Version 1 registered \(accuracy (1\.0000|0\.9\d+)\); production is version 1\./);
    expect(upload.stderr).toMatch(/Drop accepted: Accepted 400 of 400 rows/);
    const models = await cli('models');
    expect(models.stdout).toMatch(/churn-cli\s+classification\s+churned\s+1\s+1/);
    await expect(cli('versions', 'no-such-model')).rejects.toMatchObject({ stderr: expect.stringMatching(/modelloop: Model "no-such-model" is not defined/) });

    // An operator's day: retrain, promote the new version, roll back, read the drops' verdicts.
    expect((await cli('retrain', 'churn-cli', '--idempotency-key', 'cli-test')).stdout).toMatch(/Retrain of churn-cli queued \(key manual:churn-cli:cli-test\)/);
    await eventually('version 2 of churn-cli', async () => ((await call('GET', '/models/churn-cli')).json?.versions?.length === 2 ? true : undefined));
    expect((await cli('promote', 'churn-cli', '2')).stdout).toMatch(/production of churn-cli now points at version 2/);
    expect((await call('GET', '/models/churn-cli')).json.aliases.production).toBe(2);
    expect((await cli('rollback', 'churn-cli')).stdout).toMatch(/rolled back from version 2 to version 1/);
    expect((await call('GET', '/models/churn-cli')).json.aliases.production).toBe(1);
    expect((await cli('reports', 'churn-cli')).stdout).toMatch(/churn\.csv\s+accepted\s+400\/400\s+Accepted 400 of 400 rows/);
    await expect(cli('rollback', 'churn-cli')).rejects.toMatchObject({ stderr: expect.stringMatching(/no version older than 1/) });
  });

  it('keeps models, versions and aliases across a stop and a start', async () => {
    expect(await stack.stop()).toBe(0);
    await stack.restart();
    const { json } = await call('GET', '/models/churn');
    expect(json).toMatchObject({ aliases: { production: 1 }, latestVersion: 1, versions: [expect.objectContaining({ version: 1 })] });
    const reply = await call('POST', '/models/churn/predict', {
      instances: [{ tenure_months: 60, monthly_charges: 25.0, contract: 'two-year', support_calls: 0, paperless: false }],
    });
    expect(reply.json).toMatchObject({ version: 1, predictions: ['no'] });
    const datasets = await call('GET', '/models/churn/datasets');
    expect(datasets.json.datasets.map((d: { status: string }) => d.status).sort()).toEqual(['accepted', 'rejected']);
  });
});
