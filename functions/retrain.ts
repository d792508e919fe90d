import { app, type InvocationContext } from '@azure/functions';
import { loggerOf } from '../shared/platform/logger';
import { retrainTransport } from '../shared/platform/config';
import { RETRAIN_QUEUE } from '../shared/platform/retrain-queue';
import { getServices } from '../shared/platform/services';

/**
 * Queue trigger on `retrain-requests` (Storage queue locally, Service Bus session queue in Azure):
 * trains, registers and (for a model's first version) promotes. A malformed message is logged and
 * settled; a transient failure throws, so the queue delivers it again until it is parked.
 */
export async function retrainHandler(message: unknown, context: InvocationContext): Promise<void> {
  const log = loggerOf(context);
  const services = await getServices();
  // Training (trainers, data readers, the holdout worker) loads on first use, not on every cold start.
  const { deliveryOf, receiveRetrainRequest } = await import('../shared/platform/retrain-delivery');
  await receiveRetrainRequest(
    { ...services, log, timeBudgetSeconds: services.config.trainingTimeBudgetSeconds, holdoutFraction: services.config.holdoutFraction, retainVersions: services.config.retainUnaliasedVersions },
    message,
    deliveryOf(context.triggerMetadata, services.config.retrain.maxDeliveries),
  );
}

// The local host has no Service Bus trigger: register the one transport the settings choose.
if (retrainTransport() === 'servicebus') {
  app.serviceBusQueue('retrain', {
    queueName: RETRAIN_QUEUE,
    connection: 'ServiceBus',
    // One session per model: one training per model at a time, in the order requested.
    isSessionsEnabled: true,
    handler: retrainHandler,
  });
} else {
  app.storageQueue('retrain', {
    queueName: RETRAIN_QUEUE,
    connection: 'AzureWebJobsStorage',
    handler: retrainHandler,
  });
}
