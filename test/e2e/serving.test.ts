import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azuriteConnectionString, COSMOS_EMULATOR_KEY } from '../../host/emulators';
import { BlobStore } from '../../shared/platform/blob-store';
import { moveAlias } from '../../shared/registry/aliases';
import { CosmosRegistry } from '../../shared/registry/cosmos-registry';
import { artifactPath } from '../../shared/registry/manifest';
import { everyDatatypeModel, registerTensorModel } from '../shared/serving/tensor-model';
import { call as callStack, eventually as waitFor, root, startLocalStackProcess, type LocalStackProcess } from '../support/local-stack';

/**
 * Serving through the whole local stack (`node dist/host/start.js`), keys enforced: every body format
 * of native predict, every Open Inference Protocol route, for a trained and an imported model, the
 * inference log, and `production` moved under a steady stream of requests. The model cache is bounded
 * to one byte, so every version swap also evicts the old session while requests still hold it.
 */
const churn = readFileSync(join(root, 'examples', 'churn.csv'));
const FUNCTION_KEY = 'e2e-function-key';
const ADMIN_KEY = 'e2e-admin-key';

let stack: LocalStackProcess;
let blobs: BlobStore;
let registry: CosmosRegistry;
const call = (method: string, path: string, body?: unknown, key: string | null = FUNCTION_KEY, contentType = 'application/json') =>
  callStack(stack.url, method, path, body, contentType, key);
const eventually = <T>(what: string, probe: () => Promise<T | undefined>, seconds = 60) => waitFor(what, probe, seconds, () => stack.output());

const rows = [
  { tenure_months: 2, monthly_charges: 95.5, contract: 'month-to-month', support_calls: 6, paperless: true },
  { tenure_months: 60, monthly_charges: 25.0, contract: 'two-year', support_calls: 0, paperless: false },
];
const columns = Object.keys(rows[0]!);

beforeAll(async () => {
  // Health answers anonymously, so the stack comes up as usual with keys enforced.
  stack = await startLocalStackProcess({
    env: {
      MODELLOOP_FUNCTION_KEYS: FUNCTION_KEY,
      MODELLOOP_ADMIN_KEYS: ADMIN_KEY,
      MODEL_CACHE_BYTES: '1',
      ALIAS_CACHE_SECONDS: '1',
      INFERENCE_LOG_SAMPLE_RATE: '1',
      INFERENCE_LOG_FLUSH_SECONDS: '0.5',
    },
  });
  const ports = stack.ports;
  blobs = new BlobStore(azuriteConnectionString(ports.blob, ports.queue));
  registry = new CosmosRegistry({ endpoint: `http://127.0.0.1:${ports.cosmos}`, key: COSMOS_EMULATOR_KEY, database: 'modelloop', container: 'registry' });
  await registry.initialise();

  expect((await call('PUT', '/models/churn', { task: 'classification', target: 'churned' }, ADMIN_KEY)).status).toBe(201);
  expect((await call('PUT', '/datasets/churn/churn.csv', churn, FUNCTION_KEY, 'text/csv')).status).toBe(202);
  await eventually('version 1 of churn', async () => ((await call('GET', '/models/churn')).json?.aliases?.production === 1 ? true : undefined), 60);
  await registerTensorModel({ blobs, registry }, 'tensors', 1, everyDatatypeModel());
}, 180_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('native predict through the local host', () => {
  it('answers every body format of the contract with the same labels and probabilities', async () => {
    const bodies = {
      instances: { instances: rows },
      dataframe_records: { dataframe_records: rows },
      dataframe_split: { dataframe_split: { columns, data: rows.map((r) => columns.map((c) => r[c as keyof typeof r])) } },
      inputs: { inputs: Object.fromEntries(columns.map((c) => [c, rows.map((r) => r[c as keyof typeof r])])) },
      input_data: { input_data: { columns, index: [0, 1], data: rows.map((r) => columns.map((c) => r[c as keyof typeof r])) } },
    };
    const replies = [];
    for (const [format, body] of Object.entries(bodies)) {
      const reply = await call('POST', '/models/churn/predict', body);
      expect(reply.status, format).toBe(200);
      expect(reply.json, format).toMatchObject({ model: 'churn', version: 1, predictions: ['yes', 'no'] });
      replies.push(reply.json);
    }
    for (const reply of replies) expect(reply).toEqual(replies[0]);
    expect(replies[0].probabilities[0].yes).toBeGreaterThan(0.9);
  });

  it('takes ?version= and ?alias=, and says what is wrong with a bad row', async () => {
    expect((await call('POST', '/models/churn/predict?version=1', { instances: rows })).json.version).toBe(1);
    expect((await call('POST', '/models/churn/predict?alias=production', { instances: rows })).json.version).toBe(1);
    const bad = await call('POST', '/models/churn/predict', { instances: [{ ...rows[0], support_calls: 'six' }] });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'SchemaViolation', problems: [{ path: ['instances', 0, 'support_calls'], expected: 'an integer', received: 'a string "six"' }] });
    expect((await call('POST', '/models/churn/predict?alias=staging', { instances: rows })).status).toBe(404);
  });

  it('checks keys: none or a wrong one is 401, a function key scores, only an admin key changes', async () => {
    expect((await call('POST', '/models/churn/predict', { instances: rows }, null)).status).toBe(401);
    expect((await call('POST', '/models/churn/predict', { instances: rows }, 'wrong')).status).toBe(401);
    expect((await call('POST', `/models/churn/predict?code=${FUNCTION_KEY}`, { instances: rows }, null)).status).toBe(200);
    expect((await call('PUT', '/models/other', { task: 'regression', target: 'y' }, FUNCTION_KEY)).status).toBe(401);
    expect((await call('GET', '/v2/health/live', undefined, null)).status).toBe(200);
  });

  it('writes sampled rows to inference-logs/ off the request path', async () => {
    const lines = await eventually('inference log lines for churn', async () => {
      const listed = await blobs.list('inference-logs', 'churn/');
      return listed.length > 0 ? listed : undefined;
    }, 20);
    const first = (await blobs.read('inference-logs', lines[0]!.name))!.bytes.toString('utf8').trim().split('\n')[0]!;
    expect(JSON.parse(first)).toMatchObject({ model: 'churn', version: 1, inputs: expect.objectContaining({ contract: expect.any(String) }), outputs: expect.objectContaining({ label: expect.any(String) }) });
  });
});

describe('Open Inference Protocol through the local host', () => {
  it('answers server metadata, live and ready', async () => {
    expect((await call('GET', '/v2')).json).toEqual({ name: 'modelloop', version: expect.any(String), extensions: [] });
    const live = await call('GET', '/v2/health/live', undefined, null);
    expect([live.status, live.text]).toEqual([200, '']);
    const ready = await call('GET', '/v2/health/ready', undefined, null);
    expect([ready.status, ready.text]).toEqual([200, '']);
  });

  it('describes models with and without a version, and says when they are ready', async () => {
    const meta = await call('GET', '/v2/models/churn');
    expect(meta.json).toMatchObject({ name: 'churn', versions: ['1'], platform: 'onnx_onnxv1' });
    expect(meta.json.inputs).toContainEqual({ name: 'contract', datatype: 'BYTES', shape: [-1, 1] });
    expect(meta.json.outputs).toContainEqual({ name: 'label', datatype: 'BYTES', shape: [-1] });
    expect((await call('GET', '/v2/models/tensors/versions/1')).json).toMatchObject({ name: 'tensors', versions: ['1'], inputs: expect.arrayContaining([{ name: 'n', datatype: 'INT64', shape: [-1, 1] }]) });
    expect((await call('GET', '/v2/models/churn/ready')).status).toBe(200);
    expect((await call('GET', '/v2/models/tensors/versions/1/ready')).status).toBe(200);
    const missing = await call('GET', '/v2/models/tensors/versions/7/ready');
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(/no version 7/);
    expect((await call('GET', '/v2/models/nope')).status).toBe(404);
  });

  it('infers with and without a version, for a trained and an imported model', async () => {
    const trained = await call('POST', '/v2/models/churn/infer', {
      id: 'abc',
      inputs: columns.map((c) => {
        const values = rows.map((r) => r[c as keyof typeof r]);
        const text = typeof values[0] === 'string';
        return { name: c, datatype: text ? 'BYTES' : 'FP32', shape: [2, 1], data: values.map((v) => (typeof v === 'boolean' ? Number(v) : v)) };
      }),
      outputs: [{ name: 'label' }],
    });
    expect(trained.status).toBe(200);
    expect(trained.json).toEqual({ model_name: 'churn', model_version: '1', id: 'abc', outputs: [{ name: 'label', datatype: 'BYTES', shape: [2], data: ['yes', 'no'] }] });

    const imported = await call('POST', '/v2/models/tensors/versions/1/infer', {
      parameters: { source: 'e2e' },
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [1, 2], data: [[1.5, 2]] },
        { name: 'n', datatype: 'INT64', shape: [1, 1], data: [[7]] },
        { name: 'i', datatype: 'INT32', shape: [1, 1], data: [3] },
        { name: 'd', datatype: 'FP64', shape: [1, 1], data: [0.1] },
        { name: 'b', datatype: 'BOOL', shape: [1, 1], data: [false] },
        { name: 's', datatype: 'BYTES', shape: [1, 1], data: ['hello'] },
      ],
    });
    expect(imported.status).toBe(200);
    expect(imported.json).toMatchObject({ model_name: 'tensors', model_version: '1', parameters: { source: 'e2e' } });
    expect(imported.json.outputs).toEqual([
      { name: 'doubled', datatype: 'FP32', shape: [1, 2], data: [3, 4] },
      { name: 'count', datatype: 'INT64', shape: [1, 1], data: [7] },
      { name: 'small', datatype: 'INT32', shape: [1, 1], data: [3] },
      { name: 'precise', datatype: 'FP64', shape: [1, 1], data: [0.1] },
      { name: 'negated', datatype: 'BOOL', shape: [1, 1], data: [true] },
      { name: 'name', datatype: 'BYTES', shape: [1, 1], data: ['hello'] },
    ]);
  });

  it('answers bad requests with 4xx and {"error"}', async () => {
    const wrong = await call('POST', '/v2/models/tensors/infer', { inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, 2], data: ['a', 'b'] }] });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatch(/input "x" must be FP32/);
    const notJson = await fetch(`${stack.url}/v2/models/tensors/infer`, { method: 'POST', headers: { 'x-functions-key': FUNCTION_KEY }, body: '{"inputs": [' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/not valid JSON/);
    expect((await call('POST', '/v2/models/tensors/versions/x/infer', { inputs: [] })).status).toBe(400);
  });
});

describe('moving production under load', () => {
  it('serves the new version within seconds of the move, with no failed request', async () => {
    // Version 2: the same pipeline registered again, as an import would register it.
    const v1 = (await registry.getVersion('churn', 1))!;
    await blobs.write('models', artifactPath('churn', 2), (await blobs.read('models', artifactPath('churn', 1)))!.bytes);
    await registry.upsertVersion({ ...v1, id: 'version-2', version: 2, artifact: v1.artifact.replace('/1/', '/2/'), manifest: v1.manifest.replace('/1/', '/2/'), createdAt: new Date().toISOString() });
    const modelDoc = (await registry.getModel('churn'))!;
    await registry.replaceModel({ ...modelDoc, latestVersion: Math.max(modelDoc.latestVersion, 2) });

    const failures: string[] = [];
    const seen: { at: number; version: number }[] = [];
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const reply = await call('POST', '/models/churn/predict', { instances: rows }).catch((err: Error) => ({ status: 0, json: undefined, text: err.message }));
        if (reply.status !== 200 || reply.json.predictions[0] !== 'yes') failures.push(`${reply.status} ${reply.text.slice(0, 200)}`);
        else seen.push({ at: Date.now(), version: reply.json.version });
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    await new Promise((r) => setTimeout(r, 1000));
    const movedAt = Date.now();
    await moveAlias({ blobs, registry }, { model: 'churn', alias: 'production', version: 2, by: 'user:e2e', reason: 'swap under load' });
    await eventually('version 2 to be served', async () => (seen.some((s) => s.version === 2) ? true : undefined), 10);
    const firstV2 = seen.find((s) => s.version === 2)!.at;
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(firstV2 - movedAt).toBeLessThan(10_000);
    expect(seen.filter((s) => s.at < movedAt).every((s) => s.version === 1)).toBe(true);
    // Once the alias cache has expired everywhere, only version 2 answers.
    expect(seen.filter((s) => s.at > firstV2 + 1200).every((s) => s.version === 2)).toBe(true);
    expect(seen.length).toBeGreaterThan(50);
  }, 60_000);
});
