import { app } from '@azure/functions';
import { httpFunction, json } from '../shared/platform/http-reply';

/** `GET /models`: every model with its task, target and aliases. */
export const listModelsHandler = httpFunction(async (_request, _context, { registry }) => {
  const models = await registry.listModels();
  return json(200, {
    models: models
      .sort((a, b) => (a.model < b.model ? -1 : 1))
      .map((m) => ({
        model: m.model,
        task: m.definition.task,
        target: m.definition.target,
        aliases: m.aliases,
        latestVersion: m.latestVersion,
        updatedAt: m.updatedAt,
      })),
  });
});

app.http('list-models', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models',
  handler: listModelsHandler,
});
