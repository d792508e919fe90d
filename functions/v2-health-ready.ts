import { app, type HttpResponseInit } from '@azure/functions';
import { ensureError } from '../shared/platform/errors';
import { json } from '../shared/platform/http-reply';
import { getServices } from '../shared/platform/services';

/**
 * `GET /v2/health/ready`: 200 (empty body) when the registry and model storage answer, so any
 * version can be loaded; otherwise 400 with `{"error"}`, as the protocol has 4xx mean "not ready".
 */
export async function v2HealthReadyHandler(): Promise<HttpResponseInit> {
  try {
    const services = await getServices();
    await Promise.all([services.registry.ping(), services.blobs.ping()]);
    return { status: 200 };
  } catch (err) {
    return json(400, { code: 'ServiceUnavailable', error: `Not ready: ${ensureError(err).message}` });
  }
}

app.http('v2-health-ready', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'v2/health/ready',
  handler: v2HealthReadyHandler,
});
