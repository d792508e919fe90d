import { app } from '@azure/functions';
import { httpFunction } from '../shared/platform/http-reply';
import { modelReady, versionSelector } from '../shared/serving/open-inference';
import { scoringOf } from '../shared/serving/scoring';

/** `GET /v2/models/{model}[/versions/{version}]/ready`: 200 (empty) once the version's session is loaded and warm; 404 for an unknown model or version. */
export const v2ModelReadyHandler = httpFunction(async (request, _context, services) => {
  const { model = '', version } = request.params;
  await modelReady(scoringOf(services), model, versionSelector(version));
  return { status: 200 };
});

// Azure's router has no optional middle segment, so the versioned route is a second registration of the same handler.
app.http('v2-model-ready', { methods: ['GET'], authLevel: 'function', route: 'v2/models/{model}/ready', handler: v2ModelReadyHandler });
app.http('v2-model-version-ready', { methods: ['GET'], authLevel: 'function', route: 'v2/models/{model}/versions/{version}/ready', handler: v2ModelReadyHandler });
