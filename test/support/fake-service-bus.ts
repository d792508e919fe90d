import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { ServiceBusMessage } from '@azure/service-bus';
import type { RetrainMessageSender } from '../../shared/platform/service-bus-retrain-queue';

/**
 * A Service Bus queue and the Functions host's Service Bus trigger, in memory, keeping the rules
 * modelloop relies on (there is no Service Bus emulator on these machines):
 * - a session-enabled queue refuses a message without `sessionId`;
 * - duplicate detection drops a message whose `messageId` was accepted inside the window;
 * - one receiver holds a session at a time, and takes its messages in order, one by one;
 * - a handler that throws abandons the message: it comes back with `deliveryCount` + 1, and after
 *   `maxDeliveryCount` deliveries it is dead-lettered with reason `MaxDeliveryCountExceeded`.
 * Lock durations and renewal are not modelled: the trigger holds a session until its work is done.
 */
export interface FakeQueueOptions {
  readonly requiresSession: boolean;
  /** @default 600_000 (10 minutes, the Service Bus default) */
  readonly duplicateDetectionWindowMs?: number;
  /** @default 10 (the Service Bus default) */
  readonly maxDeliveryCount?: number;
}

export interface DeadLetter {
  readonly messageId: string;
  readonly sessionId: string | undefined;
  readonly body: unknown;
  readonly deliveryCount: number;
  readonly deadLetterReason: string;
  readonly deadLetterErrorDescription: string;
}

interface Stored {
  readonly messageId: string;
  readonly sessionId: string | undefined;
  /** JSON, as it travelled. */
  readonly body: string;
  deliveryCount: number;
}

export type TriggerHandler = (message: unknown, context: InvocationContext) => Promise<unknown>;

export class FakeServiceBusQueue {
  readonly #options: Required<FakeQueueOptions>;
  readonly #messages: Stored[] = [];
  readonly #seen = new Map<string, number>();
  readonly deadLetters: DeadLetter[] = [];
  duplicatesDropped = 0;
  #now: () => number = Date.now;

  constructor(options: FakeQueueOptions) {
    this.#options = { duplicateDetectionWindowMs: 600_000, maxDeliveryCount: 10, ...options };
  }

  /** Moves the queue's clock (duplicate detection window) forward. */
  advance(ms: number): void {
    const base = this.#now();
    this.#now = () => base + ms;
  }

  get activeMessageCount(): number {
    return this.#messages.length;
  }

  createSender(): RetrainMessageSender {
    return {
      sendMessages: async (message: ServiceBusMessage) => this.#accept(message),
      createMessageBatch: async () => ({}),
      close: async () => {},
    };
  }

  #accept(message: ServiceBusMessage): void {
    const sessionId = message.sessionId;
    if (this.#options.requiresSession && !sessionId) {
      throw new Error('The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.');
    }
    const messageId = message.messageId === undefined ? randomUUID() : String(message.messageId);
    if (messageId.length > 128 || (sessionId?.length ?? 0) > 128) throw new Error('MessageId and SessionId are limited to 128 characters.');
    const seenAt = this.#seen.get(messageId);
    if (seenAt !== undefined && this.#now() - seenAt < this.#options.duplicateDetectionWindowMs) {
      this.duplicatesDropped++;
      return;
    }
    this.#seen.set(messageId, this.#now());
    this.#messages.push({ messageId, sessionId, body: JSON.stringify(message.body), deliveryCount: 0 });
  }

  /**
   * Runs the trigger until the queue is empty: up to `maxConcurrentSessions` sessions at once
   * (host.json `extensions.serviceBus.maxConcurrentSessions`), each session's messages in order.
   */
  async runTrigger(handler: TriggerHandler, options: { maxConcurrentSessions: number; functionName?: string; log?: (line: string) => void }): Promise<void> {
    const locked = new Set<string | undefined>();
    const running = new Set<Promise<void>>();
    const nextSession = (): string | undefined | null => {
      const free = this.#messages.find((m) => !locked.has(m.sessionId));
      return free ? free.sessionId : null;
    };
    for (;;) {
      while (running.size < options.maxConcurrentSessions) {
        const session = nextSession();
        if (session === null) break;
        locked.add(session);
        const work = this.#drainSession(session, handler, options).finally(() => {
          locked.delete(session);
          running.delete(work);
        });
        running.add(work);
      }
      if (running.size === 0) return;
      await Promise.race(running);
    }
  }

  async #drainSession(sessionId: string | undefined, handler: TriggerHandler, options: { functionName?: string; log?: (line: string) => void }): Promise<void> {
    for (;;) {
      const message = this.#messages.find((m) => m.sessionId === sessionId);
      if (!message) return;
      message.deliveryCount++;
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: options.functionName ?? 'retrain',
        triggerMetadata: { messageId: message.messageId, sessionId: message.sessionId, deliveryCount: message.deliveryCount },
        logHandler: (level, ...args) => options.log?.(`${level}: ${args.map(String).join(' ')}`),
      });
      try {
        await handler(JSON.parse(message.body), context);
        this.#messages.splice(this.#messages.indexOf(message), 1);
      } catch {
        if (message.deliveryCount >= this.#options.maxDeliveryCount) {
          this.#messages.splice(this.#messages.indexOf(message), 1);
          this.deadLetters.push({
            messageId: message.messageId,
            sessionId: message.sessionId,
            body: JSON.parse(message.body),
            deliveryCount: message.deliveryCount,
            deadLetterReason: 'MaxDeliveryCountExceeded',
            // As Service Bus words it: the broker never sees the handler's error, only the app's log does.
            deadLetterErrorDescription: `Message could not be consumed after ${message.deliveryCount} delivery attempts.`,
          });
        }
        // Otherwise abandoned: it stays first in its session and is delivered again.
      }
    }
  }
}
