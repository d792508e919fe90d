import { app } from '@azure/functions';
import { httpFunction, json } from '../shared/platform/http-reply';
import { describeModel } from '../shared/registry/define-model';

/** `GET /models/{model}`: the definition, data contract, aliases and versions. */
export const getModelHandler = httpFunction(async (request, _context, { registry }) =>
  json(200, await describeModel(registry, request.params.model ?? '')),
);

app.http('get-model', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}',
  handler: getModelHandler,
});
