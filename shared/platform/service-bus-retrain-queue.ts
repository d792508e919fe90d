import { createHash } from 'node:crypto';
import type { ServiceBusMessage } from '@azure/service-bus';
import { retrainRequestSchema, type RetrainQueue, type RetrainRequest } from './retrain-queue';

/**
 * The part of `ServiceBusSender` (@azure/service-bus) the queue uses. The real sender satisfies it,
 * and so does the fake namespace the tests run against (`test/support/fake-service-bus.ts`).
 */
export interface RetrainMessageSender {
  sendMessages(message: ServiceBusMessage): Promise<void>;
  /** Opens the link, signing in, without sending anything: the health check. */
  createMessageBatch(): Promise<unknown>;
  close(): Promise<void>;
}

/** Service Bus limits `messageId` and `sessionId` to 128 characters. */
const MAX_ID_LENGTH = 128;

/**
 * The Service Bus message for a retrain request: the contract's JSON body, with
 * - `sessionId` = the model, so a session-enabled queue hands one model's requests to one
 *   receiver at a time, in order (one training per model at once);
 * - `messageId` = the idempotency key (its SHA-256 when longer than Service Bus allows), so
 *   duplicate detection drops a second send of the same request inside its window.
 */
export function toServiceBusMessage(request: RetrainRequest): ServiceBusMessage {
  const body = retrainRequestSchema.parse(request);
  return {
    body,
    contentType: 'application/json',
    messageId: body.key.length <= MAX_ID_LENGTH ? body.key : createHash('sha256').update(body.key).digest('hex'),
    sessionId: body.model,
    subject: body.reason,
  };
}

/** Retrain requests on a Service Bus queue with sessions and duplicate detection (Azure). */
export class ServiceBusRetrainQueue implements RetrainQueue {
  readonly #sender: RetrainMessageSender;

  constructor(sender: RetrainMessageSender) {
    this.#sender = sender;
  }

  async send(request: RetrainRequest): Promise<void> {
    await this.#sender.sendMessages(toServiceBusMessage(request));
  }

  async ping(): Promise<void> {
    await this.#sender.createMessageBatch();
  }

  close(): Promise<void> {
    return this.#sender.close();
  }
}
