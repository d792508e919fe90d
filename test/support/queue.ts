import { QueueClient } from '@azure/storage-queue';
import { retrainRequestSchema, type RetrainRequest } from '../../shared/platform/retrain-queue';

/** Reads (and deletes) every retrain request waiting on a test's queue. */
export async function drainRetrainRequests(connection: string, queueName: string): Promise<RetrainRequest[]> {
  const queue = new QueueClient(connection, queueName);
  if (!(await queue.exists())) return [];
  const out: RetrainRequest[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return out;
    for (const message of receivedMessageItems) {
      out.push(retrainRequestSchema.parse(JSON.parse(Buffer.from(message.messageText, 'base64').toString('utf8'))));
      await queue.deleteMessage(message.messageId, message.popReceipt);
    }
  }
}
