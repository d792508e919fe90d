import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { HostLogLevel } from './logger';
import { toError } from './logger';
import type { QueueSettings } from './settings';
import { isAbort, isStorageError } from './storage';

export type MessageOutcome =
  | { readonly outcome: 'succeeded' }
  /** Failed: retried until `maxDequeueCount`, then moved to the poison queue. */
  | { readonly outcome: 'failed'; readonly reason: string }
  /** Can never succeed (e.g. it cannot be decoded): moved to the poison queue now. */
  | { readonly outcome: 'poison'; readonly reason: string };

export interface QueueListenerOptions {
  readonly queue: QueueClient;
  readonly poisonQueue: QueueClient;
  readonly settings: Pick<QueueSettings, 'batchSize' | 'newBatchThreshold' | 'maxDequeueCount' | 'visibilityTimeoutMs'>;
  /** The first wait after an empty poll; it doubles up to `maxPollingIntervalMs`. */
  readonly minPollingIntervalMs: number;
  readonly maxPollingIntervalMs: number;
  /** How long a received message stays invisible; renewed at half of it while its function runs. */
  readonly messageLeaseMs: number;
  readonly process: (message: DequeuedMessageItem) => Promise<MessageOutcome>;
  readonly log: (level: HostLogLevel, message: string, error?: Error) => void;
}

/**
 * Polls a Storage queue the way the Functions host's QueueListener does: batches of `batchSize`, a new
 * batch once no more than `newBatchThreshold` messages are in flight, exponential back-off while the queue
 * is empty, visibility renewed while a function runs, delete on success, release after
 * `visibilityTimeout` on failure, and a copy to the poison queue once `maxDequeueCount` is reached.
 */
export class QueueListener {
  readonly #options: QueueListenerOptions;
  readonly #poll = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #running = false;
  #loop: Promise<void> | undefined;
  #wakePoll: (() => void) | undefined;
  #wakeCapacity: (() => void) | undefined;
  #poisonQueueReady = false;

  constructor(options: QueueListenerOptions) {
    this.#options = options;
  }

  get name(): string {
    return this.#options.queue.name;
  }

  async start(): Promise<void> {
    await this.#options.queue.createIfNotExists();
    this.#running = true;
    this.#loop = this.#pollLoop();
  }

  /** Polls now instead of waiting out the back-off (the host just enqueued something). */
  notify(): void {
    this.#wakePoll?.();
  }

  /** Stops polling and waits up to `drainMs` for the messages in flight to be settled. */
  async stop(drainMs: number): Promise<void> {
    this.#running = false;
    this.#poll.abort();
    this.#wakePoll?.();
    this.#wakeCapacity?.();
    await this.#loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inFlight]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs))),
    ]);
    clearTimeout(timer);
  }

  async #pollLoop(): Promise<void> {
    const { queue, settings, minPollingIntervalMs, maxPollingIntervalMs, messageLeaseMs } = this.#options;
    let delay = minPollingIntervalMs;
    while (this.#running) {
      if (this.#inFlight.size > settings.newBatchThreshold) {
        await new Promise<void>((resolve) => (this.#wakeCapacity = resolve));
        continue;
      }
      if (!this.#running) break;
      let messages: DequeuedMessageItem[] = [];
      try {
        const response = await queue.receiveMessages({
          numberOfMessages: settings.batchSize,
          visibilityTimeout: toSeconds(messageLeaseMs),
          abortSignal: this.#poll.signal,
        });
        messages = response.receivedMessageItems;
      } catch (err) {
        if (!this.#running || isAbort(err)) break;
        if (isStorageError(err, 404)) await queue.createIfNotExists().catch(() => undefined);
        else this.#options.log('warning', `Polling queue '${queue.name}' failed: ${toError(err).message}`);
      }
      for (const message of messages) this.#track(this.#handle(message));
      if (messages.length > 0) {
        delay = minPollingIntervalMs;
        continue;
      }
      await this.#sleep(delay * (0.8 + Math.random() * 0.4));
      delay = Math.min(delay * 2, maxPollingIntervalMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakePoll = done;
    });
  }

  #track(handling: Promise<void>): void {
    this.#inFlight.add(handling);
    void handling.finally(() => {
      this.#inFlight.delete(handling);
      this.#wakeCapacity?.();
    });
  }

  async #handle(message: DequeuedMessageItem): Promise<void> {
    const { queue, settings, messageLeaseMs } = this.#options;
    let popReceipt = message.popReceipt;
    let renewal = Promise.resolve();
    // Keep the message invisible while the function runs, as the host does at half the visibility timeout.
    const renewTimer = setInterval(() => {
      renewal = renewal.then(async () => {
        try {
          const renewed = await queue.updateMessage(message.messageId, popReceipt, undefined, toSeconds(messageLeaseMs));
          popReceipt = renewed.popReceipt ?? popReceipt;
        } catch (err) {
          this.#options.log('warning', `Could not keep message '${message.messageId}' on '${queue.name}' invisible: ${toError(err).message}`);
        }
      });
    }, Math.max(500, messageLeaseMs / 2));

    let result: MessageOutcome;
    try {
      result =
        message.dequeueCount > settings.maxDequeueCount
          ? { outcome: 'poison', reason: `it was dequeued ${message.dequeueCount} times without being settled` }
          : await this.#options.process(message);
    } catch (err) {
      result = { outcome: 'failed', reason: toError(err).message };
    } finally {
      clearInterval(renewTimer);
      await renewal;
    }
    await this.#settle(message, popReceipt, result).catch((err: unknown) => {
      this.#options.log('error', `Could not settle message '${message.messageId}' on '${queue.name}': ${toError(err).message}`, toError(err));
    });
  }

  async #settle(message: DequeuedMessageItem, popReceipt: string, result: MessageOutcome): Promise<void> {
    const { queue, poisonQueue, settings, log } = this.#options;
    if (result.outcome === 'succeeded') {
      await this.#delete(message, popReceipt);
      return;
    }
    if (result.outcome === 'poison' || message.dequeueCount >= settings.maxDequeueCount) {
      if (!this.#poisonQueueReady) {
        await poisonQueue.createIfNotExists();
        this.#poisonQueueReady = true;
      }
      await poisonQueue.sendMessage(message.messageText);
      await this.#delete(message, popReceipt);
      log(
        'warning',
        result.outcome === 'poison'
          ? `Message '${message.messageId}' on '${queue.name}' moved to queue '${poisonQueue.name}': ${result.reason}`
          : `Message has reached MaxDequeueCount of ${settings.maxDequeueCount}. Moving message to queue '${poisonQueue.name}'. ` +
              `Message '${message.messageId}' on '${queue.name}' last failed with: ${result.reason}`,
      );
      return;
    }
    await queue.updateMessage(message.messageId, popReceipt, undefined, toSeconds(settings.visibilityTimeoutMs, 0));
    log('information', `Message '${message.messageId}' on '${queue.name}' failed (attempt ${message.dequeueCount} of ${settings.maxDequeueCount}); it will be retried.`);
  }

  async #delete(message: DequeuedMessageItem, popReceipt: string): Promise<void> {
    try {
      await this.#options.queue.deleteMessage(message.messageId, popReceipt);
    } catch (err) {
      // Another receiver took it over after its visibility lapsed; that receiver settles it.
      if (!isStorageError(err, 404)) throw err;
      this.#options.log('warning', `Message '${message.messageId}' on '${this.#options.queue.name}' was gone when it was deleted (its visibility had lapsed).`);
    }
  }
}

function toSeconds(ms: number, minimum = 1): number {
  return Math.max(minimum, Math.ceil(ms / 1000));
}
