import type { InvocationContext } from '@azure/functions';
import type { DequeuedMessageItem } from '@azure/storage-queue';
import { resolveAppSettings, type FunctionDefinition } from './function-definition';
import type { Invoker } from './invoker';
import type { HostLogger } from './logger';
import { QueueListener, type MessageOutcome } from './queue-listener';
import type { QueueSettings } from './settings';
import { decodeMessage, encodeMessage, normalizeQueueName, type StorageConnections } from './storage';

export interface QueuePolling {
  /** First wait after an empty poll; doubles up to `maxIntervalMs`. */
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  /** Initial invisibility of a received message, renewed at half while its function runs. */
  readonly messageLeaseMs: number;
}

export interface QueueTriggerDeps {
  readonly connections: StorageConnections;
  readonly settings: QueueSettings;
  readonly polling: QueuePolling;
  readonly invoker: Invoker;
  readonly log: HostLogger;
}

/** The queue a queue trigger watches, resolved from its binding (`%Setting%` allowed, as in Azure). */
export function queueNameOf(definition: FunctionDefinition): string {
  const purpose = `Function '${definition.name}'`;
  return normalizeQueueName(resolveAppSettings(String(definition.trigger.queueName), purpose), purpose);
}

/** A listener that runs `definition` for every message on its queue; poison queue `<queue>-poison`. */
export function createQueueTrigger(definition: FunctionDefinition, deps: QueueTriggerDeps): QueueListener {
  const queueName = queueNameOf(definition);
  const service = deps.connections.queueService(definition.trigger.connection as string | undefined, `Function '${definition.name}'`);
  const encoding = deps.settings.messageEncoding;
  return new QueueListener({
    queue: service.getQueueClient(queueName),
    poisonQueue: service.getQueueClient(`${queueName}-poison`),
    settings: deps.settings,
    minPollingIntervalMs: deps.polling.minIntervalMs,
    maxPollingIntervalMs: deps.polling.maxIntervalMs,
    messageLeaseMs: deps.polling.messageLeaseMs,
    log: (level, message, error) => deps.log({ level, message, error, category: 'Host.Triggers.Queue', functionName: definition.name }),
    process: async (message): Promise<MessageOutcome> => {
      const text = decodeMessage(message.messageText, encoding);
      if (text === undefined) {
        return { outcome: 'poison', reason: `Message decoding has failed! Check MessageEncoding settings (host.json extensions.queues.messageEncoding is "${encoding}").` };
      }
      const outcome = await deps.invoker.invoke(definition, {
        input: parseMessageBody(text),
        reason: `New queue message detected on '${queueName}'.`,
        triggerMetadata: queueTriggerMetadata(message, text),
      });
      return outcome.succeeded ? { outcome: 'succeeded' } : { outcome: 'failed', reason: outcome.error.message };
    },
  });
}

/**
 * The handler's input: like the Functions host, a body that is a JSON object or array arrives parsed,
 * anything else (including `42` or `"text"`) as the string.
 */
export function parseMessageBody(text: string): unknown {
  const trimmed = text.trim();
  if ((trimmed.startsWith('{') && trimmed.endsWith('}')) || (trimmed.startsWith('[') && trimmed.endsWith(']'))) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return text;
    }
  }
  return text;
}

/** `context.triggerMetadata` as @azure/functions presents the host's queue binding data (camelCase). */
function queueTriggerMetadata(message: DequeuedMessageItem, text: string): Record<string, unknown> {
  return {
    queueTrigger: text,
    id: message.messageId,
    dequeueCount: message.dequeueCount,
    expirationTime: message.expiresOn.toISOString(),
    insertionTime: message.insertedOn.toISOString(),
    nextVisibleTime: message.nextVisibleOn.toISOString(),
    popReceipt: message.popReceipt,
  };
}

/**
 * Sends what a function put in its `queue` outputs (`$return` or `context.extraOutputs`), after it
 * succeeded, encoded as host.json says. An array sends one message per item.
 */
export async function writeQueueOutputs(
  definition: FunctionDefinition,
  context: InvocationContext,
  result: unknown,
  connections: StorageConnections,
  encoding: QueueSettings['messageEncoding'],
): Promise<void> {
  for (const [name, binding] of Object.entries(definition.bindings)) {
    if (binding.direction !== 'out' || String(binding.type).toLowerCase() !== 'queue') continue;
    const value = name === '$return' ? result : context.extraOutputs.get(name);
    if (value === undefined || value === null) continue;
    const purpose = `Function '${definition.name}', output '${name}'`;
    const queueName = normalizeQueueName(resolveAppSettings(String(binding.queueName), purpose), purpose);
    const queue = connections.queueService(binding.connection as string | undefined, purpose).getQueueClient(queueName);
    await queue.createIfNotExists();
    for (const item of Array.isArray(value) ? value : [value]) {
      const text = typeof item === 'string' ? item : item instanceof Uint8Array ? Buffer.from(item).toString('utf8') : JSON.stringify(item);
      await queue.sendMessage(encodeMessage(text, encoding));
    }
  }
}
