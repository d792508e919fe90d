import type { InvocationContext } from '@azure/functions';
import { QueueServiceClient } from '@azure/storage-queue';
import { describe, expect, inject, it } from 'vitest';
import { FunctionsHost, type FunctionsHostOptions } from '../../host/functions-host';
import { APP_FIXTURE, collectingLogger, eventually, FAST_POLLING, sleep, uniqueName } from './helpers';

const storageConnection = inject('storageConnection');
const queues = QueueServiceClient.fromConnectionString(storageConnection);
const base64 = (text: string): string => Buffer.from(text).toString('base64');
const queueTrigger = (queueName: string) => ({
  message: { type: 'queueTrigger', direction: 'in' as const, queueName, connection: 'ModelloopUnsetQueueSetting' },
});

function createHost(options: Partial<FunctionsHostOptions> = {}): FunctionsHost {
  return new FunctionsHost({
    scriptRoot: APP_FIXTURE,
    hostJson: { version: '2.0' },
    port: 0,
    log: collectingLogger().log,
    storageConnection,
    hostId: uniqueName('host'),
    polling: FAST_POLLING,
    ...options,
  });
}

async function peekAll(queueName: string): Promise<string[]> {
  const response = await queues.getQueueClient(queueName).peekMessages({ numberOfMessages: 32 });
  return response.peekedMessageItems.map((item) => item.messageText);
}

describe('queue trigger', () => {
  it('hands the function the decoded JSON body and the dequeue count, then deletes the message', async () => {
    const queueName = uniqueName('retrain-requests');
    const received: { input: unknown; metadata: Record<string, unknown> | undefined }[] = [];
    const host = createHost();
    host.register('train', { bindings: queueTrigger(queueName) }, (input: unknown, context: InvocationContext) => {
      received.push({ input, metadata: context.triggerMetadata });
    });
    await host.start();
    try {
      const queue = queues.getQueueClient(queueName);
      const request = { model: 'iris', reason: 'manual', requestedAt: '2024-05-01T00:00:00Z', key: 'k1' };
      await queue.sendMessage(base64(JSON.stringify(request)));
      await queue.sendMessage(base64('plain words'));

      await eventually(() => received.length === 2);
      const json = received.find((r) => typeof r.input === 'object');
      expect(json?.input).toEqual(request);
      expect(json?.metadata).toMatchObject({
        dequeueCount: 1,
        id: expect.any(String),
        popReceipt: expect.any(String),
        insertionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        expirationTime: expect.any(String),
        nextVisibleTime: expect.any(String),
        queueTrigger: JSON.stringify(request),
      });
      expect(received.find((r) => typeof r.input === 'string')?.input).toBe('plain words');
      await eventually(async () => (await peekAll(queueName)).length === 0);
    } finally {
      await host.stop();
    }
  });

  it('moves a message that keeps failing to <queue>-poison after maxDequeueCount, retrying until then', async () => {
    const queueName = uniqueName('failing');
    const logs = collectingLogger();
    const dequeueCounts: unknown[] = [];
    const host = createHost({ hostJson: { version: '2.0', extensions: { queues: { maxDequeueCount: 2 } } }, log: logs.log });
    host.register('train', { bindings: queueTrigger(queueName) }, (_input: unknown, context: InvocationContext) => {
      dequeueCounts.push(context.triggerMetadata?.dequeueCount);
      throw new Error('training data is unreadable');
    });
    await host.start();
    try {
      const body = base64(JSON.stringify({ model: 'iris' }));
      await queues.getQueueClient(queueName).sendMessage(body);
      await eventually(async () => (await peekAll(`${queueName}-poison`)).length === 1);
      expect(await peekAll(`${queueName}-poison`)).toEqual([body]);
      await sleep(500);
      expect(dequeueCounts).toEqual([1, 2]);
      expect(await peekAll(queueName)).toEqual([]);
      expect(logs.messages().some((m) => /MaxDequeueCount of 2\. Moving message to queue '.*-poison'.*training data is unreadable/s.test(m))).toBe(true);
    } finally {
      await host.stop();
    }
  });

  it('moves a message that is not base64 to the poison queue without running the function', async () => {
    const queueName = uniqueName('undecodable');
    let calls = 0;
    const host = createHost();
    host.register('train', { bindings: queueTrigger(queueName) }, () => {
      calls++;
    });
    await host.start();
    try {
      await queues.getQueueClient(queueName).sendMessage('not base64 at all!');
      await eventually(async () => (await peekAll(`${queueName}-poison`)).length === 1);
      expect(calls).toBe(0);
    } finally {
      await host.stop();
    }
  });

  it('keeps a message invisible while a long invocation runs, so it runs once', async () => {
    const queueName = uniqueName('long-training');
    let calls = 0;
    let finished = 0;
    const host = createHost({ polling: { ...FAST_POLLING, queueMessageLeaseMs: 1_000 } });
    host.register('train', { bindings: queueTrigger(queueName) }, async () => {
      calls++;
      await sleep(3_500);
      finished++;
    });
    await host.start();
    try {
      await queues.getQueueClient(queueName).sendMessage(base64('{"model":"iris"}'));
      await eventually(() => finished > 0, 20_000);
      await eventually(async () => (await peekAll(queueName)).length === 0);
      expect(calls).toBe(1);
    } finally {
      await host.stop();
    }
  });

  it('sends what the function returns through a queue output, encoded as host.json says', async () => {
    const input = uniqueName('incoming');
    const output = uniqueName('outgoing');
    const host = createHost();
    host.register(
      'forward',
      { bindings: { ...queueTrigger(input), $return: { type: 'queue', direction: 'out', queueName: output } } },
      (body: Record<string, unknown>) => ({ ...body, forwarded: true }),
    );
    await host.start();
    try {
      await queues.getQueueClient(input).sendMessage(base64('{"model":"iris"}'));
      const [message] = await eventually(async () => {
        const texts = await peekAll(output).catch(() => []);
        return texts.length > 0 ? texts : undefined;
      });
      expect(JSON.parse(Buffer.from(message as string, 'base64').toString())).toEqual({ model: 'iris', forwarded: true });
    } finally {
      await host.stop();
    }
  });
});
