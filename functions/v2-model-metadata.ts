import { app } from '@azure/functions';
import { httpFunction, json } from '../shared/platform/http-reply';
import { modelMetadata, versionSelector } from '../shared/serving/open-inference';
import { scoringOf } from '../shared/serving/scoring';

/** `GET /v2/models/{model}[/versions/{version}]`: inputs and outputs with datatypes and shapes; no version means `production`. */
export const v2ModelMetadataHandler = httpFunction(async (request, _context, services) => {
  const { model = '', version } = request.params;
  return json(200, await modelMetadata(scoringOf(services), model, versionSelector(version)));
});

// Azure's router has no optional middle segment, so the versioned route is a second registration of the same handler.
app.http('v2-model-metadata', { methods: ['GET'], authLevel: 'function', route: 'v2/models/{model}', handler: v2ModelMetadataHandler });
app.http('v2-model-version-metadata', { methods: ['GET'], authLevel: 'function', route: 'v2/models/{model}/versions/{version}', handler: v2ModelMetadataHandler });
