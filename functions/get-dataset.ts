import { app } from '@azure/functions';
import { ModelloopError } from '../shared/platform/errors';
import { CONTAINERS } from '../shared/platform/blob-store';
import { httpFunction, json } from '../shared/platform/http-reply';
import { assertModelName } from '../shared/data/model-definition';
import { publicView } from '../shared/registry/documents';

/** `GET /models/{model}/datasets/{datasetId}`: one drop's record and its full validation report. */
export const getDatasetHandler = httpFunction(async (request, _context, { registry, blobs }) => {
  const model = request.params.model ?? '';
  assertModelName(model);
  const datasetId = request.params.datasetId ?? '';
  if (!/^[0-9a-f]{64}$/.test(datasetId)) {
    throw new ModelloopError('InvalidInput', `"${datasetId}" is not a dataset id: dataset ids are the 64 hex digits of the content's SHA-256.`);
  }
  const dataset = await registry.getDataset(model, datasetId);
  if (!dataset) throw new ModelloopError('ModelNotFound', `Model "${model}" has no dataset ${datasetId.slice(0, 12)}….`);
  const report = await blobs.readJson(CONTAINERS.reports, dataset.report.replace(/^reports\//, ''));
  return json(200, { ...publicView(dataset), report: report?.value ?? null });
});

app.http('get-dataset', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}/datasets/{datasetId}',
  handler: getDatasetHandler,
});
