import { app } from '@azure/functions';
import { assertModelName } from '../shared/data/model-definition';
import { httpFunction, json } from '../shared/platform/http-reply';
import { loggerOf } from '../shared/platform/logger';
import { publicView } from '../shared/registry/documents';

/**
 * `POST /models/{model}/evaluate`: runs the scheduled evaluation now, over the window since the
 * last one, and replies with it (200), or says why there was nothing to evaluate.
 */
export const evaluateModelHandler = httpFunction(async (request, context, services) => {
  const model = request.params.model ?? '';
  assertModelName(model);
  // The evaluation code (ONNX Runtime, the trainers' table assembly) loads on first use, not at start-up.
  const { evaluateModel } = await import('../shared/monitoring/evaluate');
  const outcome = await evaluateModel({ ...services, log: loggerOf(context) }, model, { trigger: 'manual' });
  switch (outcome.kind) {
    case 'evaluated':
      return json(200, { model, status: 'evaluated', evaluation: publicView(outcome.evaluation) });
    case 'already-evaluated':
      return json(200, { model, status: 'already-evaluated', ...(outcome.evaluation ? { evaluation: publicView(outcome.evaluation) } : {}) });
    case 'skipped':
      return json(200, { model, status: 'skipped', reason: outcome.reason });
  }
});

app.http('evaluate-model', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'models/{model}/evaluate',
  handler: evaluateModelHandler,
});
