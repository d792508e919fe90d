import { app } from '@azure/functions';
import { httpFunction, json, readJson } from '../shared/platform/http-reply';
import { loggerOf } from '../shared/platform/logger';

/** `PUT /models/{model}`: defines a model or updates its definition. */
export const defineModelHandler = httpFunction(async (request, context, services) => {
  const model = request.params.model ?? '';
  const body = await readJson(request, services.config.maxRequestBytes);
  // The data pipeline (parsers, contract checks) loads on first use, not on every cold start.
  const { defineModelAndJudgePending } = await import('../shared/data/define-and-judge');
  const result = await defineModelAndJudgePending({ ...services, log: loggerOf(context), maxDropBytes: services.config.maxDropBytes }, model, body);
  return json(result.created ? 201 : 200, result.view, { location: `/models/${model}` });
});

app.http('define-model', {
  methods: ['PUT'],
  authLevel: 'admin',
  route: 'models/{model}',
  handler: defineModelHandler,
});
