import { randomUUID } from 'node:crypto';
import { app } from '@azure/functions';
import { ModelloopError } from '../shared/platform/errors';
import { httpFunction, json } from '../shared/platform/http-reply';
import { assertModelName } from '../shared/data/model-definition';

/** `POST /models/{model}/retrain`: asks for a retrain now. An optional body `{"key": "..."}` makes the request idempotent. */
export const requestRetrainHandler = httpFunction(async (request, _context, { registry, retrainQueue }) => {
  const model = request.params.model ?? '';
  assertModelName(model);
  if (!(await registry.getModel(model))) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
  const text = await request.text();
  let key = `manual:${model}:${randomUUID()}`;
  if (text.trim()) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ModelloopError('InvalidInput', 'The body must be empty or JSON such as {"key": "nightly-2026-11-24"}.');
    }
    const given = (body as { key?: unknown } | null)?.key;
    if (given !== undefined) {
      if (typeof given !== 'string' || given.length === 0 || given.length > 200) {
        throw new ModelloopError('InvalidInput', '"key" must be a non-empty string of at most 200 characters.', [{ path: ['key'], message: 'invalid key' }]);
      }
      key = `manual:${model}:${given}`;
    }
  }
  await retrainQueue.send({ model, reason: 'manual', requestedAt: new Date().toISOString(), key });
  return json(202, { model, key, status: 'queued' });
});

app.http('request-retrain', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'models/{model}/retrain',
  handler: requestRetrainHandler,
});
