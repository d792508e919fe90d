import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../host/emulators';
import { call as callStack, eventually as waitFor, root, startLocalStackProcess, type LocalStackProcess } from '../support/local-stack';
import { memoryBomb } from '../shared/registry/import/onnx-fixtures';

/**
 * The README's operator section, as an operator and a data scientist run it against the whole
 * local stack: import an ONNX file, promote it, roll back; hostile files are refused with a report
 * while the host keeps serving.
 */
const churn = readFileSync(join(root, 'examples', 'churn.csv'));
let stack: LocalStackProcess;
let blobs: BlobServiceClient;
const call = (method: string, path: string, body?: unknown, contentType?: string) => callStack(stack.url, method, path, body, contentType);
const eventually = <T>(what: string, probe: () => Promise<T | undefined>, seconds = 60) => waitFor(what, probe, seconds, () => stack.output());
const rows = { instances: [{ tenure_months: 2, monthly_charges: 95.5, contract: 'month-to-month', support_calls: 6, paperless: true }] };

async function readJsonBlob(container: string, name: string): Promise<any> {
  const client = blobs.getContainerClient(container).getBlobClient(name);
  if (!(await client.exists())) return undefined;
  return JSON.parse((await client.downloadToBuffer()).toString('utf8'));
}

beforeAll(async () => {
  stack = await startLocalStackProcess();
  blobs = BlobServiceClient.fromConnectionString(azuriteConnectionString(stack.ports.blob, stack.ports.queue));
}, 150_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('the model lifecycle on the local stack', () => {
  it('imports an ONNX file, promotes it and rolls back, and the scoring endpoint follows', async () => {
    expect((await call('PUT', '/models/churn', { task: 'classification', target: 'churned' })).status).toBe(201);
    expect((await call('PUT', '/datasets/churn/churn.csv', churn, 'text/csv')).status).toBe(202);
    await eventually('version 1 of churn', async () => ((await call('GET', '/models/churn')).json?.aliases?.production === 1 ? true : undefined));

    // A data scientist brings a model of their own: here, version 1's own file, with a sidecar.
    const onnx = await blobs.getContainerClient('models').getBlobClient('churn/1/model.onnx').downloadToBuffer();
    const incoming = blobs.getContainerClient('models-incoming');
    await incoming.getBlockBlobClient('churn/notebook.json').uploadData(Buffer.from(JSON.stringify({ notes: 'from the notebook', metrics: { accuracy: 0.98 } })));
    await incoming.getBlockBlobClient('churn/notebook.onnx').uploadData(onnx);
    const report = await eventually('the import report', () => readJsonBlob('models-incoming', 'churn/notebook.onnx.report.json'));
    expect(report).toMatchObject({ status: 'registered', version: 2, servesPredict: true, evaluation: { evaluated: true }, promotion: { decision: 'challenger', by: 'policy:auto' } });

    const version = await call('GET', '/models/churn/versions/2');
    expect(version.json).toMatchObject({ source: 'imported', notes: 'from the notebook', lineage: { source: 'imported', importedFrom: 'models-incoming/churn/notebook.onnx' } });

    const promoted = await call('PUT', '/models/churn/aliases/production', { version: 2, reason: 'the notebook model' });
    expect(promoted).toMatchObject({ status: 200, json: { aliases: { production: 2, challenger: 2 }, move: { from: 1, to: 2, by: 'user:admin', reason: 'the notebook model' } } });
    await eventually('predict to serve version 2', async () => ((await call('POST', '/models/churn/predict', rows)).json?.version === 2 ? true : undefined), 20);

    const rolledBack = await call('PUT', '/models/churn/aliases/production', { version: 1 });
    expect(rolledBack.json.move).toMatchObject({ from: 2, to: 1, reason: 'rolled back by an operator' });
    await eventually('predict to serve version 1 again', async () => ((await call('POST', '/models/churn/predict', rows)).json?.version === 1 ? true : undefined), 20);
  });

  it('refuses hostile files with a report while the host keeps serving', async () => {
    expect((await call('PUT', '/models/bomb-target', { task: 'regression', target: 'y' })).status).toBe(201);
    const incoming = blobs.getContainerClient('models-incoming');
    await incoming.getBlockBlobClient('bomb-target/bomb.onnx').uploadData(Buffer.from(memoryBomb()));
    const onnx = await blobs.getContainerClient('models').getBlobClient('churn/1/model.onnx').downloadToBuffer();
    await incoming.getBlockBlobClient('churn/truncated.onnx').uploadData(onnx.subarray(0, Math.floor(onnx.length / 2)));

    const truncated = await eventually('the truncated file report', () => readJsonBlob('models-incoming', 'churn/truncated.onnx.report.json'));
    expect(truncated).toMatchObject({ status: 'refused', refusals: [{ code: 'Malformed', message: expect.stringMatching(/truncated/) }] });
    const bomb = await eventually('the memory bomb report', () => readJsonBlob('models-incoming', 'bomb-target/bomb.onnx.report.json'), 90);
    expect(bomb).toMatchObject({ status: 'refused', refusals: [{ code: 'MemoryLimit' }] });

    expect((await call('GET', '/health')).status).toBe(200);
    expect(await call('POST', '/models/churn/predict', rows)).toMatchObject({ status: 200, json: { predictions: ['yes'] } });
    expect((await call('GET', '/models/bomb-target')).json).toMatchObject({ latestVersion: 0, versions: [] });
  });
});
