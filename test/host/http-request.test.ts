import { request as httpRequest } from 'node:http';
import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FunctionsHost } from '../../host/functions-host';
import { APP_FIXTURE, collectingLogger } from './helpers';

const storageConnection = inject('storageConnection');
const httpBinding = (route: string, methods: string[]) => ({
  request: { type: 'httpTrigger', direction: 'in' as const, route, methods, authLevel: 'anonymous' },
  $return: { type: 'http', direction: 'out' as const },
});

/** Replies a handler may return; each is written by the host as is and, for comparison, as `new HttpResponse(init)`. */
const REPLIES: Record<string, HttpResponseInit> = {
  json: { jsonBody: { model: 'iris', predictions: ['setosa'], probabilities: [{ setosa: 0.97 }] } },
  'json-with-status-and-type': { status: 201, jsonBody: [1, 2], headers: { 'Content-Type': 'application/vnd.modelloop+json', 'X-Version': '3' } },
  text: { status: 202, body: 'accepted é' },
  bytes: { body: new Uint8Array([0, 1, 2, 255]), headers: { 'content-type': 'application/octet-stream' } },
  'no-content': { status: 204, jsonBody: { ignored: true } },
  'not-modified': { status: 304, body: 'ignored' },
  empty: {},
  'null-json': { jsonBody: null, body: 'the body wins' },
  'headers-object': { jsonBody: { a: 1 }, headers: new Headers({ 'x-from': 'Headers' }) as unknown as Record<string, string> },
  'padded-header': { body: 'x', headers: { 'x-padded': '  trimmed  ' } },
  'twice-named-header': { body: 'x', headers: { 'x-twice': 'a', 'X-Twice': 'b' } },
  cookies: { body: 'x', cookies: [{ name: 'session', value: 'a b', path: '/' }] },
  'latin1-header': { body: 'x', headers: { 'x-name': 'café' } },
  'own-content-length': { body: 'abc', headers: { 'content-length': '3' } },
};

interface Wire {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(url: string, method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP requests and replies through the host', () => {
  const logs = collectingLogger();
  const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, hostJson: { version: '2.0', extensions: { http: { routePrefix: '' } } }, port: 0, log: logs.log, storageConnection });
  let seen: HttpRequest | undefined;

  beforeAll(async () => {
    host.register('reply', { bindings: httpBinding('reply/{name}', ['GET', 'HEAD']) }, (request: HttpRequest) => REPLIES[request.params.name ?? '']);
    host.register('wrapped', { bindings: httpBinding('wrapped/{name}', ['GET', 'HEAD']) }, (request: HttpRequest) => new HttpResponse(REPLIES[request.params.name ?? '']));
    host.register('echo', { bindings: httpBinding('echo/{*rest}', []) }, async (request: HttpRequest) => {
      seen = request;
      return { jsonBody: { url: request.url, method: request.method, rest: request.params.rest ?? null, query: [...request.query.entries()], type: request.headers.get('content-type') } };
    });
    await host.start();
  });
  afterAll(() => host.stop());

  it.each(Object.keys(REPLIES))('writes the %s reply as the library HttpResponse of it would be written', async (name) => {
    for (const method of ['GET', 'HEAD']) {
      const plain = await send(`${host.url}/reply/${name}`, method);
      const wrapped = await send(`${host.url}/wrapped/${name}`, method);
      expect(plain.status).toBe(wrapped.status);
      expect(plain.body.equals(wrapped.body)).toBe(true);
      const comparable = (wire: Wire): Record<string, unknown> =>
        Object.fromEntries(Object.entries(wire.headers).filter(([header]) => !['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(header)));
      expect(comparable(plain)).toEqual(comparable(wrapped));
    }
  });

  it('writes a JSON reply with its content-length in one piece', async () => {
    const reply = await send(`${host.url}/reply/json`);
    expect(reply.headers['content-length']).toBe(String(reply.body.byteLength));
    expect(reply.headers['transfer-encoding']).toBeUndefined();
    expect(JSON.parse(reply.body.toString())).toEqual(REPLIES.json!.jsonBody);
  });

  it('gives the handler the library HttpRequest with url, method, headers, params and every query value', async () => {
    const reply = await send(`${host.url}/echo/a/b?version=2&tag=x&tag=y`, 'POST', '{"instances": []}', { 'content-type': 'application/json' });
    expect(JSON.parse(reply.body.toString())).toEqual({
      url: `${host.url}/echo/a/b?version=2&tag=x&tag=y`,
      method: 'POST',
      rest: 'a/b',
      query: [['version', '2'], ['tag', 'x'], ['tag', 'y']],
      type: 'application/json',
    });
    expect(seen).toBeInstanceOf(HttpRequest);
  });

  it('normalises a path with dot segments and encoded characters as URL parsing does', async () => {
    const reply = await send(`${host.url}/echo/x/../y/%2e%2e/z?q=a b`, 'GET');
    const body = JSON.parse(reply.body.toString()) as { url: string; rest: string; query: string[][] };
    expect(new URL(body.url).pathname).toBe('/echo/z');
    expect(body.rest).toBe('z');
    expect(body.query).toEqual([['q', 'a b']]);
  });

  it('reads the body once, as fetch does, by text, json or arrayBuffer', async () => {
    await send(`${host.url}/echo/body`, 'POST', '\ufeff{"a": 1}');
    const request = seen!;
    expect(request.bodyUsed).toBe(false);
    expect(await request.clone().json()).toEqual({ a: 1 });
    expect(await request.text()).toBe('{"a": 1}');
    expect(request.bodyUsed).toBe(true);
    await expect(request.text()).rejects.toThrow(TypeError);
    await expect(request.arrayBuffer()).rejects.toThrow(TypeError);

    await send(`${host.url}/echo/bytes`, 'PUT', 'abc');
    expect(Buffer.from(await seen!.arrayBuffer()).toString()).toBe('abc');
  });

  it('offers the body as a stream, form data and a blob, through a fetch Request built on demand', async () => {
    await send(`${host.url}/echo/stream`, 'POST', 'streamed');
    const chunks: Uint8Array[] = [];
    for await (const chunk of seen!.body!) chunks.push(chunk as Uint8Array);
    expect(Buffer.concat(chunks).toString()).toBe('streamed');
    expect(seen!.bodyUsed).toBe(true);
    await expect(seen!.text()).rejects.toThrow(TypeError);

    await send(`${host.url}/echo/form`, 'POST', 'model=iris&version=2', { 'content-type': 'application/x-www-form-urlencoded' });
    const form = await seen!.formData();
    expect(form.get('model')).toBe('iris');

    await send(`${host.url}/echo/blob`, 'POST', 'xyz', { 'content-type': 'text/plain' });
    const blob = await seen!.blob();
    expect(blob.type).toBe('text/plain');
    expect(await blob.text()).toBe('xyz');
  });

  it('gives a GET request no body, as fetch does', async () => {
    await send(`${host.url}/echo/get`, 'GET');
    expect(seen!.body).toBeNull();
    expect(await seen!.text()).toBe('');
  });
});
