import { performance } from 'node:perf_hooks';
import { app } from '@azure/functions';
import { httpFunction, json, readJson } from '../shared/platform/http-reply';
import { infer, versionSelector } from '../shared/serving/open-inference';
import { recordScoringLatency, scoringOf } from '../shared/serving/scoring';

/** `POST /v2/models/{model}[/versions/{version}]/infer`: Open Inference Protocol inference; no version means `production`. */
export const v2InferHandler = httpFunction(async (request, _context, services) => {
  const startedAt = performance.now();
  const scoring = scoringOf(services);
  const body = await readJson(request, services.config.maxRequestBytes);
  const { model = '', version } = request.params;
  const reply = await infer(scoring, model, versionSelector(version), body);
  recordScoringLatency(scoring, 'v2-infer', reply.model_name, reply.model_version, startedAt);
  return json(200, reply);
});

// Azure's router has no optional middle segment, so the versioned route is a second registration of the same handler.
app.http('v2-infer', { methods: ['POST'], authLevel: 'function', route: 'v2/models/{model}/infer', handler: v2InferHandler });
app.http('v2-infer-version', { methods: ['POST'], authLevel: 'function', route: 'v2/models/{model}/versions/{version}/infer', handler: v2InferHandler });
