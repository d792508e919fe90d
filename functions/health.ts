import { app, type HttpResponseInit } from '@azure/functions';
import { ensureError } from '../shared/platform/errors';
import { json } from '../shared/platform/http-reply';
import { getServices } from '../shared/platform/services';

/** `GET /health`: 200 once storage, the retrain queue and the registry all answer; 503 naming the part that does not. */
export async function healthHandler(): Promise<HttpResponseInit> {
  let services;
  try {
    services = await getServices();
  } catch (err) {
    return json(503, { status: 'unavailable', code: 'ServiceUnavailable', error: ensureError(err).message });
  }
  const checks = {
    storage: () => services.blobs.ping(),
    queue: () => services.retrainQueue.ping(),
    registry: () => services.registry.ping(),
  };
  const parts: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([part, check]) => {
      try {
        await check();
        parts[part] = 'ok';
      } catch (err) {
        parts[part] = ensureError(err).message;
      }
    }),
  );
  const down = Object.entries(parts).filter(([, state]) => state !== 'ok');
  if (down.length === 0) return json(200, { status: 'ok', parts });
  return json(503, {
    status: 'unavailable',
    code: 'ServiceUnavailable',
    error: `Not reachable: ${down.map(([part, why]) => `${part} (${why})`).join('; ')}`,
    parts,
  });
}

app.http('health', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: healthHandler,
});
