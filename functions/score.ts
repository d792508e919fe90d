import { performance } from 'node:perf_hooks';
import { app } from '@azure/functions';
import { ModelloopError } from '../shared/platform/errors';
import { httpFunction, json, readJson } from '../shared/platform/http-reply';
import { getServices } from '../shared/platform/services';
import { predict } from '../shared/serving/predict';
import { flushInferenceLogs, recordScoringLatency, scoringOf } from '../shared/serving/scoring';
import type { VersionSelector } from '../shared/serving/model-cache';

/** `POST /models/{model}/predict[?version=N|?alias=name]`: scores rows with the model's ONNX pipeline. */
export const scoreHandler = httpFunction(async (request, _context, services) => {
  const startedAt = performance.now();
  const scoring = scoringOf(services);
  const body = await readJson(request, services.config.maxRequestBytes);
  const reply = await predict(scoring, { model: request.params.model ?? '', selector: selectorOf(request.query), body });
  recordScoringLatency(scoring, 'predict', reply.model, reply.version, startedAt);
  return json(200, reply);
});

function selectorOf(query: URLSearchParams): VersionSelector {
  const version = query.get('version');
  const alias = query.get('alias');
  if (version !== null && alias !== null) throw new ModelloopError('InvalidInput', 'Name either ?version= or ?alias=, not both.');
  if (version !== null) {
    const n = Number(version);
    if (!Number.isInteger(n) || n < 1) throw new ModelloopError('InvalidInput', `?version=${version} is not valid: versions are whole numbers from 1.`);
    return { version: n };
  }
  if (alias !== null) {
    if (!/^[a-z][a-z0-9-]*$/.test(alias)) throw new ModelloopError('InvalidInput', `?alias=${alias} is not valid: aliases are lowercase words.`);
    return { alias };
  }
  return {};
}

// A cold instance connects to storage and the registry while the host finishes starting, instead of
// on its first request; a failure here is left for that request to report.
app.hook.appStart(() => void getServices().catch(() => undefined));

// Sampled scoring rows wait in memory for the inference log's timer; a graceful stop writes them
// (both scoring functions share the log, so one hook covers them).
app.hook.appTerminate(() => flushInferenceLogs());

app.http('score', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'models/{model}/predict',
  handler: scoreHandler,
});
