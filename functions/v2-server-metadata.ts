import { app, type HttpResponseInit } from '@azure/functions';
import { json } from '../shared/platform/http-reply';
import { serverMetadata } from '../shared/serving/open-inference';

/** `GET /v2`: Open Inference Protocol server metadata (name, version, extensions). */
export async function v2ServerMetadataHandler(): Promise<HttpResponseInit> {
  return json(200, serverMetadata());
}

app.http('v2-server-metadata', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'v2',
  handler: v2ServerMetadataHandler,
});
