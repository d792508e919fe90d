import { app, type InvocationContext } from '@azure/functions';
import { loggerOf } from '../shared/platform/logger';
import { RETRAIN_QUEUE, retrainRequestSchema } from '../shared/platform/retrain-queue';
import { getServices } from '../shared/platform/services';
import { retrain } from '../shared/training/retrain';

/**
 * Queue trigger on `retrain-requests`: trains, registers and (for a model's first version)
 * promotes. A malformed message is logged and settled, never retried.
 */
export async function retrainHandler(message: unknown, context: InvocationContext): Promise<void> {
  const log = loggerOf(context);
  const parsed = retrainRequestSchema.safeParse(message);
  if (!parsed.success) {
    log.error(`Discarded a malformed retrain request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
    return;
  }
  const services = await getServices();
  const outcome = await retrain(
    { ...services, log, timeBudgetSeconds: services.config.trainingTimeBudgetSeconds, holdoutFraction: services.config.holdoutFraction },
    parsed.data,
  );
  if (outcome.kind === 'duplicate') log.info(`Retrain request ${parsed.data.key} was already handled (run ${outcome.run.status}).`);
  if (outcome.kind === 'skipped') log.warn(`Retrain request ${parsed.data.key} skipped: ${outcome.reason}`);
}

app.storageQueue('retrain', {
  queueName: RETRAIN_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: retrainHandler,
});
