import { app } from '@azure/functions';
import { httpFunction, json } from '../shared/platform/http-reply';
import { describeModel } from '../shared/registry/define-model';

/** `GET /models/{model}/versions`: version history with metrics, newest first. */
export const listVersionsHandler = httpFunction(async (request, _context, { registry }) => {
  const view = await describeModel(registry, request.params.model ?? '');
  return json(200, { model: view.model, aliases: view.aliases, versions: [...view.versions].reverse() });
});

app.http('list-versions', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}/versions',
  handler: listVersionsHandler,
});
