import { app, type InvocationContext, type Timer } from '@azure/functions';
import { evaluationSchedule } from '../shared/platform/config';
import { loggerOf } from '../shared/platform/logger';
import { getServices } from '../shared/platform/services';

/**
 * Timer on EVALUATION_SCHEDULE (six-field NCRONTAB, default hourly): evaluates every model with a
 * production version whose own schedule (`evaluation.schedule`, else EVALUATION_SCHEDULE) has come
 * due since its last evaluation. A model's schedule can be coarser than the timer's, not finer.
 */
export async function evaluateModelsHandler(timer: Timer, context: InvocationContext): Promise<void> {
  const log = loggerOf(context);
  const services = await getServices();
  if (timer.isPastDue) log.warn('The evaluation timer is running late (the app was asleep or busy at its scheduled time).');
  // The evaluation code (ONNX Runtime, the trainers' table assembly) loads on first use, not at start-up.
  const { evaluateDueModels } = await import('../shared/monitoring/evaluate');
  const results = await evaluateDueModels({ ...services, log }, { defaultSchedule: services.config.evaluationSchedule });
  const counts = new Map<string, number>();
  for (const { outcome } of results) counts.set(outcome.kind, (counts.get(outcome.kind) ?? 0) + 1);
  log.info(`Scheduled evaluation: ${results.length} model(s) due${results.length ? ` (${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}.`);
}

app.timer('evaluate-models', {
  schedule: evaluationSchedule(),
  handler: evaluateModelsHandler,
});
