import { app, type HttpResponseInit } from '@azure/functions';

/** `GET /v2/health/live`: 200 with an empty body while the worker answers (Open Inference Protocol). */
export async function v2HealthLiveHandler(): Promise<HttpResponseInit> {
  return { status: 200 };
}

app.http('v2-health-live', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'v2/health/live',
  handler: v2HealthLiveHandler,
});
