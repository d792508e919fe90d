import { app } from '@azure/functions';
import { assertModelName } from '../shared/data/model-definition';
import { ModelloopError } from '../shared/platform/errors';
import { httpFunction, json } from '../shared/platform/http-reply';
import { publicView } from '../shared/registry/documents';

const MAX_LIMIT = 200;

/**
 * `GET /models/{model}/runs?limit=`: the model's training runs, newest first: each request's key and
 * reason, its status (running, succeeded, failed, skipped, folded), its progress while it runs, the
 * version it registered and how the promotion policy judged it, or why it did not.
 */
export const listRunsHandler = httpFunction(async (request, _context, { registry }) => {
  const model = request.params.model ?? '';
  assertModelName(model);
  const limitText = request.query.get('limit');
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new ModelloopError('InvalidInput', `"limit" must be a whole number from 1 to ${MAX_LIMIT}, got "${limitText}".`, [{ path: ['limit'], message: 'out of range', received: String(limitText) }]);
  }
  if (!(await registry.getModel(model))) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
  return json(200, { model, runs: (await registry.listRuns(model, limit)).map(publicView) });
});

app.http('list-runs', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}/runs',
  handler: listRunsHandler,
});
