import { QueueClient } from '@azure/storage-queue';
import { retrainRequestSchema, type RetrainQueue, type RetrainRequest } from './retrain-queue';

/**
 * Retrain requests on an Azure Storage queue. Bodies are base64-encoded JSON, the encoding the
 * Functions queue trigger expects by default (`extensions.queues.messageEncoding`).
 */
export class StorageRetrainQueue implements RetrainQueue {
  readonly #queue: QueueClient;
  #created: Promise<unknown> | undefined;

  /** A connection string and queue name, or a queue client signed in with a managed identity. */
  constructor(connection: string | QueueClient, queueName: string) {
    this.#queue = typeof connection === 'string' ? new QueueClient(connection, queueName) : connection;
  }

  async send(request: RetrainRequest): Promise<void> {
    const body = retrainRequestSchema.parse(request);
    this.#created ??= this.#queue.createIfNotExists();
    await this.#created;
    await this.#queue.sendMessage(Buffer.from(JSON.stringify(body), 'utf8').toString('base64'));
  }

  async ping(): Promise<void> {
    this.#created ??= this.#queue.createIfNotExists();
    await this.#created;
  }
}
