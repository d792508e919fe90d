import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionsStack, modelWithTwoVersions, uniqueModel, type TestStack } from '../support/stack';

/** The evaluation routes as Azure calls them, against the real registry the functions' services use. */
let handlers: {
  evaluate: typeof import('../../functions/evaluate-model').evaluateModelHandler;
  list: typeof import('../../functions/list-evaluations').listEvaluationsHandler;
};
let stack: TestStack;

beforeAll(async () => {
  stack = await functionsStack('evaluations');
  handlers = {
    evaluate: (await import('../../functions/evaluate-model')).evaluateModelHandler,
    list: (await import('../../functions/list-evaluations')).listEvaluationsHandler,
  };
});

function request(method: string, model: string, query = ''): HttpRequest {
  return new HttpRequest({ method, url: `http://localhost:7071/models/${model}/evaluat${method === 'POST' ? 'e' : 'ions'}${query}`, params: { model } });
}

async function call(handler: (r: HttpRequest, c: InvocationContext) => Promise<HttpResponseInit>, req: HttpRequest) {
  const reply = await handler(req, new InvocationContext({ functionName: 'test', logHandler: () => {} }));
  return { status: reply.status ?? 200, body: reply.jsonBody };
}

describe('POST /models/{model}/evaluate and GET /models/{model}/evaluations', () => {
  it('evaluates production with the challenger beside it, and lists evaluations by time range', async () => {
    const model = await modelWithTwoVersions(stack, 'http-eval');
    // Windows close on a whole second a little behind the clock: right after registration there may be none yet.
    let evaluated = await call(handlers.evaluate, request('POST', model));
    for (let attempt = 0; evaluated.body.status === 'skipped' && attempt < 5; attempt++) {
      expect(evaluated.body.reason).toMatch(/the next window closes a few seconds from now/);
      await new Promise((done) => setTimeout(done, 1000));
      evaluated = await call(handlers.evaluate, request('POST', model));
    }
    expect(evaluated).toMatchObject({
      status: 200,
      body: {
        model,
        status: 'evaluated',
        evaluation: {
          trigger: 'manual',
          // Nobody has scored it yet and no new drop arrived: nothing to measure, nothing asked.
          status: 'insufficient-data',
          thresholds: { drift: 0.2, decay: 0.1, dataQuality: 0.1, minRows: 500 },
          production: { version: 1, drift: { status: 'too-few-rows', rows: 0 }, quality: { status: 'no-new-data' } },
          challenger: { version: 2, alias: 'challenger' },
          findings: [],
        },
      },
    });
    expect(evaluated.body.evaluation.id).toBeUndefined();
    const windowEnd: string = evaluated.body.evaluation.windowEnd;

    const all = await call(handlers.list, request('GET', model));
    expect(all).toMatchObject({ status: 200, body: { model, evaluations: [{ windowEnd }] } });
    const later = await call(handlers.list, request('GET', model, `?from=${encodeURIComponent(new Date(Date.parse(windowEnd) + 1).toISOString())}`));
    expect(later.body.evaluations).toEqual([]);
    const until = await call(handlers.list, request('GET', model, `?to=${encodeURIComponent(new Date(Date.parse(windowEnd) + 1).toISOString())}&limit=1`));
    expect(until.body.evaluations).toHaveLength(1);
  });

  it('answers bad parameters with 400 naming them, and unknown models with 404', async () => {
    const model = await modelWithTwoVersions(stack, 'http-eval');
    expect(await call(handlers.list, request('GET', model, '?from=yesterday'))).toMatchObject({ status: 400, body: { code: 'InvalidInput', error: expect.stringMatching(/"from" must be an ISO-8601 time.*"yesterday"/) } });
    expect(await call(handlers.list, request('GET', model, '?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z'))).toMatchObject({ status: 400, body: { error: expect.stringMatching(/"from" .* must be before "to"/) } });
    expect(await call(handlers.list, request('GET', model, '?limit=0'))).toMatchObject({ status: 400, body: { error: expect.stringMatching(/"limit" must be a whole number from 1 to 1000, got "0"/) } });
    const unknown = uniqueModel('nope');
    expect(await call(handlers.list, request('GET', unknown))).toMatchObject({ status: 404, body: { code: 'ModelNotFound' } });
    expect(await call(handlers.evaluate, request('POST', unknown))).toMatchObject({ status: 404, body: { code: 'ModelNotFound' } });
    expect(await call(handlers.evaluate, request('POST', 'Bad_Name'))).toMatchObject({ status: 400, body: { code: 'InvalidInput' } });
  });
});
