import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { retrain } from '../../shared/training/retrain';
import { functionsStack, modelWithTwoVersions, type TestStack } from '../support/stack';

/** The lifecycle routes as Azure calls them, against the real registry the functions' services use. */
let handlers: {
  setAlias: typeof import('../../functions/set-alias').setAliasHandler;
  deleteAlias: typeof import('../../functions/delete-alias').deleteAliasHandler;
  getVersion: typeof import('../../functions/get-version').getVersionHandler;
  listRuns: typeof import('../../functions/list-runs').listRunsHandler;
};
let stack: TestStack;

beforeAll(async () => {
  stack = await functionsStack('lifecycle');
  handlers = {
    setAlias: (await import('../../functions/set-alias')).setAliasHandler,
    deleteAlias: (await import('../../functions/delete-alias')).deleteAliasHandler,
    getVersion: (await import('../../functions/get-version')).getVersionHandler,
    listRuns: (await import('../../functions/list-runs')).listRunsHandler,
  };
});


function request(method: string, params: Record<string, string>, body?: string, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method,
    url: `http://localhost:7071/models/${params.model}/aliases/${params.alias ?? ''}`,
    params,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: { string: body } }),
  });
}

async function call(handler: (r: HttpRequest, c: InvocationContext) => Promise<HttpResponseInit>, req: HttpRequest) {
  const reply = await handler(req, new InvocationContext({ functionName: 'test', logHandler: () => {} }));
  return { status: reply.status ?? 200, body: reply.jsonBody, headers: reply.headers as Record<string, string> | undefined };
}

describe('PUT /models/{model}/aliases/{alias}', () => {
  it('promotes, answers with where the aliases point and an ETag, and refuses a stale If-Match with 409', async () => {
    const model = await modelWithTwoVersions(stack, 'http-ops');
    const promoted = await call(handlers.setAlias, request('PUT', { model, alias: 'production' }, '{"version": 2, "reason": "better on last week"}', { 'x-ms-client-principal-name': 'alice' }));
    expect(promoted).toMatchObject({ status: 200, body: { version: 2, aliases: { production: 2, challenger: 2 }, move: { from: 1, to: 2, by: 'user:alice', reason: 'better on last week' } } });
    const etag = promoted.headers!.etag!;
    expect(etag).toBe(promoted.body.etag);

    const stale = await call(handlers.setAlias, request('PUT', { model, alias: 'production' }, '{"version": 1}', { 'if-match': '"not-the-current-etag"' }));
    expect(stale).toMatchObject({ status: 409, body: { code: 'Conflict', error: expect.stringMatching(/"production" was not moved/) } });
    const rolledBack = await call(handlers.setAlias, request('PUT', { model, alias: 'production' }, '{"version": 1}', { 'if-match': etag }));
    expect(rolledBack).toMatchObject({ status: 200, body: { version: 1, move: { from: 2, to: 1, by: 'user:admin' } } });
  });

  it('answers bad input with a 4xx and a code', async () => {
    const model = await modelWithTwoVersions(stack, 'http-ops');
    expect(await call(handlers.setAlias, request('PUT', { model, alias: 'production' }, '{"version": 0}'))).toMatchObject({ status: 400, body: { code: 'InvalidInput', problems: [{ path: ['version'] }] } });
    expect(await call(handlers.setAlias, request('PUT', { model, alias: 'production' }, 'nope'))).toMatchObject({ status: 400, body: { code: 'InvalidInput' } });
    expect(await call(handlers.setAlias, request('PUT', { model, alias: 'production' }, '{"version": 7}'))).toMatchObject({ status: 404, body: { code: 'VersionNotFound' } });
    expect(await call(handlers.setAlias, request('PUT', { model: 'no-such-model', alias: 'production' }, '{"version": 1}'))).toMatchObject({ status: 404, body: { code: 'ModelNotFound' } });
  });
});

describe('DELETE /models/{model}/aliases/{alias}', () => {
  it('removes the alias, then answers 404 for it', async () => {
    const model = await modelWithTwoVersions(stack, 'http-ops');
    expect(await call(handlers.deleteAlias, request('DELETE', { model, alias: 'challenger' }))).toMatchObject({ status: 200, body: { aliases: { production: 1 }, move: { from: 2, to: null } } });
    expect(await call(handlers.deleteAlias, request('DELETE', { model, alias: 'challenger' }))).toMatchObject({ status: 404, body: { code: 'VersionNotFound' } });
  });
});

describe('GET /models/{model}/versions/{version}', () => {
  it('shows the lineage of a version', async () => {
    const model = await modelWithTwoVersions(stack, 'http-ops');
    const reply = await call(handlers.getVersion, new HttpRequest({ method: 'GET', url: `http://localhost:7071/models/${model}/versions/2`, params: { model, version: '2' } }));
    expect(reply).toMatchObject({ status: 200, body: { version: 2, lineage: { source: 'trained', run: { status: 'succeeded' }, datasets: [{ status: 'accepted' }], aliasMoves: [{ alias: 'challenger', to: 2 }] } } });
    // Every candidate the run trained, the served one among them, with its parameters and metrics.
    const { trainer, metrics, candidates, evaluationRows } = reply.body;
    expect(candidates.map((c: { trainer: string }) => c.trainer)).toContain(trainer);
    expect(candidates.find((c: { trainer: string }) => c.trainer === trainer)).toMatchObject({ metrics, params: expect.any(Object) });
    expect(evaluationRows).toBeGreaterThan(0);
  });
});

describe('GET /models/{model}/runs', () => {
  it('lists the training runs newest first, with what each registered and why', async () => {
    const model = await modelWithTwoVersions(stack, 'http-ops');
    const get = (query = '') => call(handlers.listRuns, new HttpRequest({ method: 'GET', url: `http://localhost:7071/models/${model}/runs${query}`, params: { model } }));
    const reply = await get();
    expect(reply.status).toBe(200);
    expect(reply.body.runs).toMatchObject([
      { reason: 'data', status: 'succeeded', version: 2, promotion: { decision: 'challenger' } },
      { reason: 'data', status: 'succeeded', version: 1, promotion: { decision: 'production', by: 'system:first-version' } },
    ]);
    expect(reply.body.runs[0].key).toBe(`${reply.body.runs[1].key}:again`);
    expect((await get('?limit=1')).body.runs).toHaveLength(1);
    expect(await get('?limit=1000')).toMatchObject({ status: 400, body: { code: 'InvalidInput', error: expect.stringMatching(/"limit" must be a whole number from 1 to 200/) } });
    const unknown = 'nope-' + model;
    expect(await call(handlers.listRuns, new HttpRequest({ method: 'GET', url: `http://localhost:7071/models/${unknown}/runs`, params: { model: unknown } }))).toMatchObject({ status: 404, body: { code: 'ModelNotFound' } });
  });
});
