import { Readable } from 'node:stream';
import { HttpResponse, type HttpRequest, type InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FunctionsHost } from '../../host/functions-host';
import { APP_FIXTURE, collectingLogger, eventually, sleep } from './helpers';

const storageConnection = inject('storageConnection');
const httpBinding = (route: string | undefined, methods: string[], authLevel = 'anonymous') => ({
  request: { type: 'httpTrigger', direction: 'in' as const, route, methods, authLevel },
  $return: { type: 'http', direction: 'out' as const },
});

describe('HTTP trigger', () => {
  const logs = collectingLogger();
  const host = new FunctionsHost({
    scriptRoot: APP_FIXTURE,
    hostJson: { version: '2.0' },
    port: 0,
    log: logs.log,
    storageConnection,
    maxRequestBodyBytes: 64 * 1024,
  });

  beforeAll(async () => {
    host.register('predict', { bindings: httpBinding('models/{model}/predict', ['POST'], 'function') }, async (request: HttpRequest, context: InvocationContext) => {
      context.log('scoring', request.params.model);
      return { jsonBody: { model: request.params.model, version: request.query.get('version'), body: await request.json(), functionName: context.functionName } };
    });
    host.register('boom', { bindings: httpBinding('boom', ['GET']) }, () => {
      throw new Error('kaboom');
    });
    host.register('artifact', { bindings: httpBinding('artifact', ['GET']) }, () =>
      new HttpResponse({
        status: 201,
        headers: { 'content-type': 'application/octet-stream', 'x-kind': 'artifact' },
        cookies: [{ name: 'session', value: 'a b', httpOnly: true, path: '/' }],
        body: Readable.from([Buffer.from('onnx-'), Buffer.from('bytes')]),
      }),
    );
    host.register('status', { bindings: httpBinding(undefined, ['GET']) }, () => ({ status: 202, body: 'accepted', headers: { 'x-status': 'ok' } }));
    host.register('nothing', { bindings: httpBinding('nothing', ['DELETE']) }, () => undefined);
    await host.start();
  });
  afterAll(() => host.stop());

  it('answers a function over HTTP with route params, query and the JSON body', async () => {
    const response = await fetch(`${host.url}/api/models/iris/predict?version=3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ f1: 1 }] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toEqual({ model: 'iris', version: '3', body: { instances: [{ f1: 1 }] }, functionName: 'predict' });
    const messages = logs.messages();
    expect(messages.some((m) => /^Executing 'Functions\.predict' \(Reason='This function was programmatically called via the host APIs\.', Id=[0-9a-f-]{36}\)$/.test(m))).toBe(true);
    expect(messages.some((m) => /^Executed 'Functions\.predict' \(Succeeded, Id=[0-9a-f-]{36}, Duration=\d+ms\)$/.test(m))).toBe(true);
    expect(logs.entries).toContainEqual(expect.objectContaining({ category: 'Function.predict.User', message: 'scoring iris', functionName: 'predict' }));
  });

  it('answers 500 JSON when the handler throws, logs it, and keeps serving', async () => {
    const failed = await fetch(`${host.url}/api/boom`);
    expect(failed.status).toBe(500);
    const body = (await failed.json()) as { code: string; error: string };
    expect(body.code).toBe('InternalError');
    expect(body.error).toMatch(/Function 'boom' failed/);
    expect(logs.messages().some((m) => /^Executed 'Functions\.boom' \(Failed, Id=.*\)$/.test(m))).toBe(true);
    expect(logs.entries).toContainEqual(expect.objectContaining({ level: 'error', message: expect.stringMatching(/kaboom/) }));

    const again = await fetch(`${host.url}/api/models/iris/predict`, { method: 'POST', body: '{}' });
    expect(again.status).toBe(200);
  });

  it('uses the function name as the default route, and writes status and headers', async () => {
    const response = await fetch(`${host.url}/api/status`);
    expect(response.status).toBe(202);
    expect(response.headers.get('x-status')).toBe('ok');
    expect(await response.text()).toBe('accepted');
  });

  it('writes an HttpResponse with headers, cookies and a streamed body', async () => {
    const response = await fetch(`${host.url}/api/artifact`);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-kind')).toBe('artifact');
    expect(response.headers.getSetCookie()).toEqual(['session=a%20b; Path=/; HttpOnly']);
    expect(Buffer.from(await response.arrayBuffer()).toString()).toBe('onnx-bytes');
  });

  it('answers 204 when the handler returns nothing', async () => {
    expect((await fetch(`${host.url}/api/nothing`, { method: 'DELETE' })).status).toBe(204);
  });

  it('answers 404 RouteNotFound and 405 MethodNotAllowed as JSON', async () => {
    const missing = await fetch(`${host.url}/api/models/iris/explain`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'RouteNotFound', error: expect.stringMatching(/POST \/api\/models\/iris\/explain/) });

    const outsidePrefix = await fetch(`${host.url}/models/iris/predict`, { method: 'POST' });
    expect(outsidePrefix.status).toBe(404);

    const wrongMethod = await fetch(`${host.url}/api/models/iris/predict`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(await wrongMethod.json()).toMatchObject({ code: 'MethodNotAllowed' });
  });

  it('answers 413 for a body over the limit', async () => {
    const response = await fetch(`${host.url}/api/models/iris/predict`, { method: 'POST', body: Buffer.alloc(100 * 1024, 1) });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'PayloadTooLarge' });
  });

  it('lists its functions as Core Tools print them, keeping each auth level', () => {
    expect(host.functions).toContainEqual({
      name: 'predict',
      triggerType: 'httpTrigger',
      summary: `[POST] ${host.url}/api/models/{model}/predict`,
      disabled: false,
      authLevel: 'function',
    });
  });
});

describe('HTTP trigger without a route prefix', () => {
  it('serves routes at the root when host.json routePrefix is ""', async () => {
    const host = new FunctionsHost({
      scriptRoot: APP_FIXTURE,
      hostJson: { version: '2.0', extensions: { http: { routePrefix: '' } } },
      port: 0,
      log: collectingLogger().log,
      storageConnection,
    });
    host.register('health', { bindings: httpBinding('health', ['GET']) }, () => ({ jsonBody: { status: 'ok' } }));
    await host.start();
    try {
      expect(await (await fetch(`${host.url}/health`)).json()).toEqual({ status: 'ok' });
      expect((await fetch(`${host.url}/api/health`)).status).toBe(404);
    } finally {
      await host.stop();
    }
  });
});

describe('stopping', () => {
  it('waits for an in-flight invocation, and its reply still arrives', async () => {
    const logs = collectingLogger();
    const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, hostJson: { version: '2.0' }, port: 0, log: logs.log, storageConnection });
    let started = false;
    let finished = false;
    host.register('train', { bindings: httpBinding('train', ['POST']) }, async () => {
      started = true;
      await sleep(1_000);
      finished = true;
      return { jsonBody: { trained: true } };
    });
    await host.start();
    const reply = fetch(`${host.url}/api/train`, { method: 'POST' });
    await eventually(() => started);

    const stopping = host.stop();
    expect(finished).toBe(false);
    await stopping;
    expect(finished).toBe(true);
    const response = await reply;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ trained: true });
    expect(logs.messages()).toContain('Host stopped.');
  });

  it('gives up on an invocation that outlives the drain timeout', async () => {
    const logs = collectingLogger();
    const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, hostJson: { version: '2.0' }, port: 0, log: logs.log, storageConnection, drainTimeoutMs: 200 });
    let started = false;
    host.register('stuck', { bindings: httpBinding('stuck', ['GET']) }, async () => {
      started = true;
      await sleep(3_000);
      return { body: 'late' };
    });
    await host.start();
    const reply = fetch(`${host.url}/api/stuck`).catch(() => undefined);
    await eventually(() => started);
    await host.stop();
    expect(logs.messages().some((m) => /1 invocation\(s\) still running after the drain timeout/.test(m))).toBe(true);
    await reply;
  });

  it('fails an invocation that exceeds functionTimeout', async () => {
    const logs = collectingLogger();
    const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, hostJson: { version: '2.0', functionTimeout: '00:00:01' }, port: 0, log: logs.log, storageConnection });
    host.register('slow', { bindings: httpBinding('slow', ['GET']) }, async () => {
      await sleep(2_500);
      return { body: 'too late' };
    });
    await host.start();
    try {
      const response = await fetch(`${host.url}/api/slow`);
      expect(response.status).toBe(500);
      expect(logs.messages().some((m) => /Timeout value of 00:00:01 was exceeded by function: Functions\.slow/.test(m))).toBe(true);
    } finally {
      await host.stop();
    }
  });
});
