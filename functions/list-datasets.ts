import { app } from '@azure/functions';
import { ModelloopError } from '../shared/platform/errors';
import { httpFunction, json } from '../shared/platform/http-reply';
import { assertModelName } from '../shared/data/model-definition';
import { publicView } from '../shared/registry/documents';

/** `GET /models/{model}/datasets`: every drop of the model with its verdict, newest first. */
export const listDatasetsHandler = httpFunction(async (request, _context, { registry }) => {
  const model = request.params.model ?? '';
  assertModelName(model);
  const datasets = await registry.listDatasets(model);
  if (datasets.length === 0 && !(await registry.getModel(model))) {
    throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined and has no drops.`);
  }
  return json(200, {
    model,
    datasets: datasets.reverse().map(publicView),
  });
});

app.http('list-datasets', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}/datasets',
  handler: listDatasetsHandler,
});
