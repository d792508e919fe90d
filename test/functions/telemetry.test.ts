import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { getServices } from '../../shared/platform/services';
import type { LogTelemetry, Telemetry } from '../../shared/platform/telemetry';
import { defineModel } from '../../shared/registry/define-model';
import { functionsStack, modelWithTwoVersions, separableCsv, uniqueModel, type TestStack } from '../support/stack';

/**
 * What the functions record, through the telemetry their services carry (the readable log sink
 * here; Azure Monitor in Azure): scoring latency per model, version and route, rows validated per
 * drop, and operators' alias moves as events.
 */
let handlers: {
  score: typeof import('../../functions/score').scoreHandler;
  v2Infer: typeof import('../../functions/v2-infer').v2InferHandler;
  setAlias: typeof import('../../functions/set-alias').setAliasHandler;
  deleteAlias: typeof import('../../functions/delete-alias').deleteAliasHandler;
  validateDrop: typeof import('../../functions/validate-drop').validateDrop;
};
let stack: TestStack;
let telemetry: LogTelemetry;
let events: MockInstance<Telemetry['event']>;
let model: string;

beforeAll(async () => {
  stack = await functionsStack('telemetry');
  handlers = {
    score: (await import('../../functions/score')).scoreHandler,
    v2Infer: (await import('../../functions/v2-infer')).v2InferHandler,
    setAlias: (await import('../../functions/set-alias')).setAliasHandler,
    deleteAlias: (await import('../../functions/delete-alias')).deleteAliasHandler,
    validateDrop: (await import('../../functions/validate-drop')).validateDrop,
  };
  telemetry = (await getServices()).telemetry as LogTelemetry;
  events = vi.spyOn(telemetry, 'event');
  model = await modelWithTwoVersions(stack, 'telemetry');
});

function request(method: string, path: string, params: Record<string, string>, body?: unknown, query = ''): HttpRequest {
  return new HttpRequest({
    method,
    url: `http://localhost:7071${path}${query}`,
    params,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
  });
}

async function call(handler: (r: HttpRequest, c: InvocationContext) => Promise<HttpResponseInit>, req: HttpRequest): Promise<{ status: number; body: any }> {
  const reply = await handler(req, new InvocationContext({ functionName: 'test', logHandler: () => {} }));
  return { status: reply.status ?? 200, body: reply.jsonBody };
}

/** The summary of one metric series, by the key LogTelemetry gives it (`name key=value…`). */
const summary = (key: string) => telemetry.summaries().get(key);

const row = { x1: 5, x2: 1, color: 'red', amount: 10 };

describe('scoring latency (modelloop.scoring.latency_ms)', () => {
  it('is recorded once per answered call, by model, version and route, for native predict and V2 infer', async () => {
    const predictKey = `modelloop.scoring.latency_ms model=${model} version=1 route=predict`;
    expect(summary(predictKey)).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      expect((await call(handlers.score, request('POST', `/models/${model}/predict`, { model }, { instances: [row, row] }))).status).toBe(200);
    }
    expect(summary(predictKey)).toMatchObject({ count: 3 });
    expect(summary(predictKey)!.min).toBeGreaterThan(0);

    // ?version=2 is its own series.
    expect((await call(handlers.score, request('POST', `/models/${model}/predict`, { model }, { instances: [row] }, '?version=2'))).status).toBe(200);
    expect(summary(`modelloop.scoring.latency_ms model=${model} version=2 route=predict`)).toMatchObject({ count: 1 });

    const v2 = {
      inputs: [
        { name: 'x1', shape: [1, 1], datatype: 'FP32', data: [row.x1] },
        { name: 'x2', shape: [1, 1], datatype: 'FP32', data: [row.x2] },
        { name: 'color', shape: [1, 1], datatype: 'BYTES', data: [row.color] },
        { name: 'amount', shape: [1, 1], datatype: 'FP32', data: [row.amount] },
      ],
    };
    const inferred = await call(handlers.v2Infer, request('POST', `/v2/models/${model}/infer`, { model }, v2));
    expect(inferred.status).toBe(200);
    expect(summary(`modelloop.scoring.latency_ms model=${model} version=1 route=v2-infer`)).toMatchObject({ count: 1 });
  });

  it('is not recorded for a request that fails', async () => {
    const before = [...telemetry.summaries().keys()].filter((k) => k.startsWith('modelloop.scoring.latency_ms')).map((k) => [k, summary(k)!.count]);
    expect((await call(handlers.score, request('POST', `/models/${model}/predict`, { model }, { instances: [{ x1: 'five' }] }))).status).toBe(400);
    expect((await call(handlers.score, request('POST', '/models/ghost/predict', { model: 'ghost' }, { instances: [row] }))).status).toBe(404);
    const after = [...telemetry.summaries().keys()].filter((k) => k.startsWith('modelloop.scoring.latency_ms')).map((k) => [k, summary(k)!.count]);
    expect(after).toEqual(before);
  });
});

describe('rows validated (modelloop.rows.validated)', () => {
  it('counts the rows of each judged drop by model and verdict, and nothing for a duplicate', async () => {
    const fresh = uniqueModel('telemetry-rows');
    await defineModel(stack, fresh, { task: 'classification', target: 'label' });
    const drop = async (name: string, text: string): Promise<void> => {
      await stack.blobs.write('datasets', `${fresh}/${name}`, text);
      await handlers.validateDrop(Buffer.from(text), new InvocationContext({ functionName: 'validate-drop', logHandler: () => {}, triggerMetadata: { model: fresh, name } }));
    };
    await drop('good.csv', separableCsv(40));
    expect(summary(`modelloop.rows.validated model=${fresh} status=accepted`)).toEqual({ count: 1, sum: 40, min: 40, max: 40 });

    await drop('copy.csv', separableCsv(40));
    expect(summary(`modelloop.rows.validated model=${fresh} status=accepted`)).toMatchObject({ count: 1 });

    await drop('no-target.csv', 'x1,x2,color,amount\n1,2,red,3\n4,5,blue,6\n7,8,red,9\n');
    expect(summary(`modelloop.rows.validated model=${fresh} status=rejected`)).toEqual({ count: 1, sum: 3, min: 3, max: 3 });
  });

  it('counts a drop that waited for its model when the model is defined, and nothing while it waits', async () => {
    const later = uniqueModel('telemetry-pending');
    const text = separableCsv(30);
    await stack.blobs.write('datasets', `${later}/early.csv`, text);
    await handlers.validateDrop(Buffer.from(text), new InvocationContext({ functionName: 'validate-drop', logHandler: () => {}, triggerMetadata: { model: later, name: 'early.csv' } }));
    expect([...telemetry.summaries().keys()].filter((key) => key.includes(later))).toEqual([]);
    const { defineModelAndJudgePending } = await import('../../shared/data/define-and-judge');
    await defineModelAndJudgePending({ ...(await getServices()), log: stack.log, maxDropBytes: 1 << 26 }, later, { task: 'classification', target: 'label' });
    expect(summary(`modelloop.rows.validated model=${later} status=accepted`)).toEqual({ count: 1, sum: 30, min: 30, max: 30 });
  });
});

describe('operators moving aliases', () => {
  it('sends VersionPromoted with the version, where it came from and who moved it; nothing when nothing moved', async () => {
    events.mockClear();
    const promote = request('PUT', `/models/${model}/aliases/production`, { model, alias: 'production' }, { version: 2 });
    promote.headers.set('x-ms-client-principal-name', 'alice');
    expect((await call(handlers.setAlias, promote)).status).toBe(200);
    expect(events.mock.calls).toEqual([['VersionPromoted', { model, alias: 'production', version: 2, from: 1, by: 'user:alice' }]]);

    events.mockClear();
    expect((await call(handlers.setAlias, request('PUT', `/models/${model}/aliases/production`, { model, alias: 'production' }, { version: 2 }))).body.changed).toBe(false);
    expect(events).not.toHaveBeenCalled();

    expect((await call(handlers.setAlias, request('PUT', `/models/${model}/aliases/production`, { model, alias: 'production' }, { version: 1 }))).status).toBe(200);
    expect(events.mock.calls).toEqual([['VersionPromoted', { model, alias: 'production', version: 1, from: 2, by: 'user:admin' }]]);
  });

  it('sends AliasRemoved when an operator deletes an alias', async () => {
    events.mockClear();
    expect((await call(handlers.deleteAlias, request('DELETE', `/models/${model}/aliases/challenger`, { model, alias: 'challenger' }))).status).toBe(200);
    expect(events.mock.calls).toEqual([['AliasRemoved', { model, alias: 'challenger', from: 2, by: 'user:admin' }]]);
  });
});
