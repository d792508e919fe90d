import { app } from '@azure/functions';
import { assertModelName } from '../shared/data/model-definition';
import { ModelloopError } from '../shared/platform/errors';
import { httpFunction, json } from '../shared/platform/http-reply';
import { publicView } from '../shared/registry/documents';

const MAX_LIMIT = 1000;

/**
 * `GET /models/{model}/evaluations?from=&to=&limit=`: the model's evaluations whose window ended
 * in [from, to) (ISO-8601 times; both optional), newest first, at most `limit` (default 100).
 */
export const listEvaluationsHandler = httpFunction(async (request, _context, { registry }) => {
  const model = request.params.model ?? '';
  assertModelName(model);
  const from = timeParameter(request.query.get('from'), 'from');
  const to = timeParameter(request.query.get('to'), 'to');
  if (from && to && from >= to) throw new ModelloopError('InvalidInput', `"from" (${from}) must be before "to" (${to}).`, [{ path: ['from'], message: 'must be before to' }]);
  const limitText = request.query.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new ModelloopError('InvalidInput', `"limit" must be a whole number from 1 to ${MAX_LIMIT}, got "${limitText}".`, [{ path: ['limit'], message: 'out of range', received: String(limitText) }]);
  }
  if (!(await registry.getModel(model))) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
  const evaluations = await registry.listEvaluations(model, { from, to, limit });
  return json(200, { model, ...(from ? { from } : {}), ...(to ? { to } : {}), evaluations: evaluations.map(publicView) });
});

function timeParameter(text: string | null, name: string): string | undefined {
  if (text === null || text === '') return undefined;
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new ModelloopError('InvalidInput', `"${name}" must be an ISO-8601 time such as 2026-11-24T00:00:00Z, got "${text}".`, [{ path: [name], message: 'not a time', received: text }]);
  }
  return new Date(time).toISOString();
}

app.http('list-evaluations', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}/evaluations',
  handler: listEvaluationsHandler,
});
