import { randomUUID } from 'node:crypto';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { drainRetrainRequests } from '../support/queue';
import { separableCsv, uniqueModel } from '../support/stack';

/**
 * The HTTP functions as Azure calls them: real `HttpRequest` and `InvocationContext` objects, the
 * real services (Azurite, the Cosmos server) behind them, and the contract's replies.
 */
let handlers: typeof import('./handlers');

beforeAll(async () => {
  process.env.AzureWebJobsStorage = inject('storageConnection');
  process.env.COSMOS_ENDPOINT = inject('cosmosEndpoint');
  process.env.COSMOS_KEY = inject('cosmosKey');
  process.env.COSMOS_DATABASE = `functions-${randomUUID().slice(0, 8)}`;
  handlers = await import('./handlers');
});

const context = (name: string) => new InvocationContext({ functionName: name, logHandler: () => {} });

function request(method: string, url: string, params: Record<string, string>, body?: string | Buffer, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method,
    url: `http://localhost:7071${url}`,
    params,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? { string: body } : { bytes: body } }),
  });
}

async function call(handler: (r: HttpRequest, c: InvocationContext) => Promise<HttpResponseInit>, req: HttpRequest): Promise<{ status: number; body: any }> {
  const reply = await handler(req, context('test'));
  return { status: reply.status ?? 200, body: reply.jsonBody };
}

describe('define-model (PUT /models/{model})', () => {
  it('creates with 201, updates with 200', async () => {
    const model = uniqueModel('define');
    const body = JSON.stringify({ task: 'regression', target: 'y' });
    expect((await call(handlers.defineModelHandler, request('PUT', `/models/${model}`, { model }, body))).status).toBe(201);
    const again = await call(handlers.defineModelHandler, request('PUT', `/models/${model}`, { model }, JSON.stringify({ task: 'regression', target: 'y', primaryMetric: 'mae' })));
    expect(again).toMatchObject({ status: 200, body: { model, definition: { primaryMetric: 'mae' } } });
  });

  it('answers a malformed definition, a bad name and a non-JSON body with 400 and a code', async () => {
    const model = uniqueModel('bad');
    expect(await call(handlers.defineModelHandler, request('PUT', `/models/${model}`, { model }, '{"task":"classification"}'))).toMatchObject({
      status: 400,
      body: { code: 'InvalidDefinition', error: expect.stringMatching(/target: is required/), problems: [{ path: ['target'] }] },
    });
    expect(await call(handlers.defineModelHandler, request('PUT', '/models/Bad_Name', { model: 'Bad_Name' }, '{"task":"regression","target":"y"}'))).toMatchObject({
      status: 400,
      body: { code: 'InvalidInput', error: expect.stringMatching(/"Bad_Name" is not valid/) },
    });
    expect(await call(handlers.defineModelHandler, request('PUT', `/models/${model}`, { model }, '{"task":'))).toMatchObject({
      status: 400,
      body: { code: 'InvalidInput', error: expect.stringMatching(/not valid JSON/) },
    });
  });
});

describe('reads', () => {
  it('404s an unknown model with ModelNotFound', async () => {
    expect(await call(handlers.getModelHandler, request('GET', '/models/ghost', { model: 'ghost' }))).toMatchObject({ status: 404, body: { code: 'ModelNotFound' } });
    expect(await call(handlers.listVersionsHandler, request('GET', '/models/ghost/versions', { model: 'ghost' }))).toMatchObject({ status: 404 });
    expect(await call(handlers.getVersionHandler, request('GET', '/models/ghost/versions/x', { model: 'ghost', version: 'x' }))).toMatchObject({ status: 400, body: { code: 'InvalidInput' } });
  });

  it('lists defined models', async () => {
    const model = uniqueModel('listed');
    await call(handlers.defineModelHandler, request('PUT', `/models/${model}`, { model }, '{"task":"classification","target":"label"}'));
    const { body } = await call(handlers.listModelsHandler, request('GET', '/models', {}));
    expect(body.models).toContainEqual(expect.objectContaining({ model, task: 'classification', target: 'label', aliases: {} }));
  });
});

describe('upload-dataset (PUT /datasets/{model}/{file})', () => {
  it('writes the drop where a blob drop lands and answers 202 with its dataset id', async () => {
    const model = uniqueModel('upload');
    const csv = Buffer.from(separableCsv(10));
    const reply = await call(handlers.uploadDatasetHandler, request('PUT', `/datasets/${model}/a.csv`, { model, file: 'a.csv' }, csv, { 'content-type': 'text/csv' }));
    expect(reply).toMatchObject({ status: 202, body: { blob: `datasets/${model}/a.csv`, status: 'received', datasetId: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  });

  it('refuses files that are not data, empty uploads and bad names', async () => {
    const model = uniqueModel('upload-bad');
    expect(await call(handlers.uploadDatasetHandler, request('PUT', '', { model, file: 'notes.txt' }, 'hi'))).toMatchObject({ status: 415, body: { code: 'UnsupportedFormat' } });
    expect(await call(handlers.uploadDatasetHandler, request('PUT', '', { model, file: 'a.csv' }, ''))).toMatchObject({ status: 400, body: { error: expect.stringMatching(/empty/) } });
    expect(await call(handlers.uploadDatasetHandler, request('PUT', '', { model, file: '..csv' }, 'x'))).toMatchObject({ status: 400, body: { code: 'InvalidInput' } });
  });
});

describe('score (POST /models/{model}/predict)', () => {
  it('answers an unknown model with 404 and bad query parameters with 400', async () => {
    expect(await call(handlers.scoreHandler, request('POST', '/models/ghost/predict', { model: 'ghost' }, '{"instances":[{}]}'))).toMatchObject({ status: 404, body: { code: 'ModelNotFound' } });
    expect(await call(handlers.scoreHandler, request('POST', '/models/ghost/predict?version=0', { model: 'ghost' }, '{"instances":[{}]}'))).toMatchObject({ status: 400, body: { error: expect.stringMatching(/version=0/) } });
    expect(await call(handlers.scoreHandler, request('POST', '/models/ghost/predict?version=1&alias=x', { model: 'ghost' }, '{"instances":[{}]}'))).toMatchObject({ status: 400 });
  });

  it('refuses a body over the limit before reading it', async () => {
    expect(await call(handlers.scoreHandler, request('POST', '/models/ghost/predict', { model: 'ghost' }, '{}', { 'content-length': String(64 * 1024 * 1024) }))).toMatchObject({
      status: 413,
      body: { code: 'PayloadTooLarge' },
    });
  });
});

describe('request-retrain (POST /models/{model}/retrain)', () => {
  it('queues a manual request with an idempotency key', async () => {
    const model = uniqueModel('manual');
    await call(handlers.defineModelHandler, request('PUT', `/models/${model}`, { model }, '{"task":"classification","target":"label"}'));
    const reply = await call(handlers.requestRetrainHandler, request('POST', `/models/${model}/retrain`, { model }, '{"key":"nightly-1"}'));
    expect(reply).toMatchObject({ status: 202, body: { key: `manual:${model}:nightly-1` } });
    const queued = (await drainRetrainRequests(inject('storageConnection'), 'retrain-requests')).filter((r) => r.model === model);
    expect(queued).toEqual([expect.objectContaining({ reason: 'manual', key: `manual:${model}:nightly-1` })]);
  });
});

describe('health (GET /health)', () => {
  it('is 200 with every part ok', async () => {
    const reply = await handlers.healthHandler();
    expect(reply).toMatchObject({ status: 200, jsonBody: { status: 'ok', parts: { storage: 'ok', queue: 'ok', registry: 'ok' } } });
  });
});

describe('triggers', () => {
  it('validate-drop judges a blob drop by its trigger metadata', async () => {
    const model = uniqueModel('blob');
    await call(handlers.defineModelHandler, request('PUT', `/models/${model}`, { model }, '{"task":"classification","target":"label"}'));
    const ctx = new InvocationContext({ functionName: 'validate-drop', triggerMetadata: { model, name: 'drop.csv' }, logHandler: () => {} });
    await handlers.validateDrop(Buffer.from(separableCsv(12)), ctx);
    const { body } = await call(handlers.listDatasetsHandler, request('GET', '', { model }));
    expect(body.datasets).toEqual([expect.objectContaining({ files: ['drop.csv'], status: 'accepted', acceptedRows: 12 })]);
  });

  it('validate-drop applies a model.json definition and logs a broken one without throwing', async () => {
    const model = uniqueModel('modeljson');
    const ctx = new InvocationContext({ functionName: 'validate-drop', triggerMetadata: { model, name: 'model.json' }, logHandler: () => {} });
    await handlers.validateDrop(Buffer.from('{"task":"regression","target":"price"}'), ctx);
    expect((await call(handlers.getModelHandler, request('GET', '', { model }))).body.definition).toEqual({ task: 'regression', target: 'price' });
    const errors: string[] = [];
    const broken = new InvocationContext({ functionName: 'validate-drop', triggerMetadata: { model, name: 'model.json' }, logHandler: (level, ...args) => level === 'error' && errors.push(String(args[0])) });
    await handlers.validateDrop(Buffer.from('{"task": nope'), broken);
    expect(errors[0]).toMatch(/model\.json was not applied/);
  });

  it('retrain settles a malformed message instead of retrying it', async () => {
    const errors: string[] = [];
    const ctx = new InvocationContext({ functionName: 'retrain', logHandler: (level, ...args) => level === 'error' && errors.push(String(args[0])) });
    await expect(handlers.retrainHandler({ model: 'x', reason: 'because' }, ctx)).resolves.toBeUndefined();
    expect(errors[0]).toMatch(/malformed retrain request.*reason/);
  });
});
