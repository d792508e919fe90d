import { app } from '@azure/functions';
import { assertSize, httpFunction, json } from '../shared/platform/http-reply';

/** `PUT /datasets/{model}/{file}`: uploads a data drop; the blob trigger judges it like any other. */
export const uploadDatasetHandler = httpFunction(async (request, _context, services) => {
  assertSize(request, services.config.maxDropBytes);
  const bytes = new Uint8Array(await request.arrayBuffer());
  // The data pipeline (parsers, contract checks) loads on first use, not on every cold start.
  const { uploadDrop } = await import('../shared/data/upload-drop');
  const result = await uploadDrop({ ...services, maxDropBytes: services.config.maxDropBytes }, request.params.model ?? '', request.params.file ?? '', bytes);
  return json(202, result, { location: `/models/${result.model}/datasets` });
});

app.http('upload-dataset', {
  methods: ['PUT'],
  authLevel: 'function',
  route: 'datasets/{model}/{file}',
  handler: uploadDatasetHandler,
});
