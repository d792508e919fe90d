import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, retrainTransport } from '../../../shared/platform/config';
import type { Logger } from '../../../shared/platform/logger';
import { deliveryOf, receiveRetrainRequest, type RetrainReceiverDeps } from '../../../shared/platform/retrain-delivery';
import type { RetrainRequest } from '../../../shared/platform/retrain-queue';
import { ServiceBusRetrainQueue, toServiceBusMessage } from '../../../shared/platform/service-bus-retrain-queue';
import { LogTelemetry } from '../../../shared/platform/telemetry';
import type { Registry } from '../../../shared/registry/registry';
import { defineModel } from '../../../shared/registry/define-model';
import { FakeServiceBusQueue, type TriggerHandler } from '../../support/fake-service-bus';
import { drainRetrainRequests } from '../../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel, type TestStack } from '../../support/stack';

const MAX_DELIVERIES = 5;
let stack: TestStack;

beforeAll(async () => {
  stack = await testStack();
});

function collectingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info: ${m}`), warn: (m) => lines.push(`warn: ${m}`), error: (m) => lines.push(`error: ${m}`) };
}

function receiverDeps(overrides: { registry?: Registry } = {}) {
  const log = collectingLogger();
  const deps: RetrainReceiverDeps = { ...stack, timeBudgetSeconds: 60, holdoutFraction: 0.2, ...overrides, log, telemetry: new LogTelemetry(log) };
  return { ...deps, log };
}

/** The trigger as functions/retrain.ts registers it: the delivery read from trigger metadata. */
function trigger(deps: RetrainReceiverDeps, spy: (request: RetrainRequest) => Promise<void> = async () => {}): TriggerHandler {
  return async (message, context) => {
    await spy(message as RetrainRequest);
    return receiveRetrainRequest(deps, message, deliveryOf(context.triggerMetadata, MAX_DELIVERIES));
  };
}

async function modelWithData(prefix: string): Promise<{ model: string; request: RetrainRequest }> {
  const model = uniqueModel(prefix);
  await defineModel(stack, model, { task: 'classification', target: 'label' });
  await dropFile(stack, model, 'data.csv', separableCsv(120));
  const [request] = (await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model);
  return { model, request: request! };
}

function sessionQueue(options: { duplicateDetectionWindowMs?: number } = {}): FakeServiceBusQueue {
  return new FakeServiceBusQueue({ requiresSession: true, maxDeliveryCount: MAX_DELIVERIES, ...options });
}

describe('settings for the Service Bus transport and identity-based connections', () => {
  const azure = {
    AzureWebJobsStorage__blobServiceUri: 'https://stml.blob.core.windows.net/',
    AzureWebJobsStorage__queueServiceUri: 'https://stml.queue.core.windows.net/',
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: 'client-1',
    COSMOS_ENDPOINT: 'https://cosmos-modelloop.documents.azure.com:443/',
    COSMOS_CREDENTIAL: 'managedidentity',
    COSMOS_CLIENT_ID: 'client-1',
    RETRAIN_TRANSPORT: 'servicebus',
    ServiceBus__fullyQualifiedNamespace: 'sb-modelloop.servicebus.windows.net',
    ServiceBus__credential: 'managedidentity',
    ServiceBus__clientId: 'client-1',
  };

  it('reads the Azure settings: endpoints and a managed identity, no key anywhere', () => {
    const config = loadConfig(azure);
    expect(config.storage).toEqual({
      kind: 'identity',
      blobServiceUri: azure.AzureWebJobsStorage__blobServiceUri,
      queueServiceUri: azure.AzureWebJobsStorage__queueServiceUri,
      identity: { kind: 'managedidentity', clientId: 'client-1' },
    });
    expect(config.cosmos).toMatchObject({ key: undefined, identity: { kind: 'managedidentity', clientId: 'client-1' } });
    expect(config.retrain).toEqual({
      transport: 'servicebus',
      serviceBus: { fullyQualifiedNamespace: azure.ServiceBus__fullyQualifiedNamespace, identity: { kind: 'managedidentity', clientId: 'client-1' } },
      maxDeliveries: 5,
    });
  });

  it('keeps the local defaults: Storage queue, connection string, emulator key', () => {
    const config = loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', COSMOS_ENDPOINT: 'http://127.0.0.1:8081', COSMOS_KEY: 'k' });
    expect(config.storage).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(config.cosmos).toMatchObject({ key: 'k', identity: undefined });
    expect(config.retrain).toEqual({ transport: 'storage', serviceBus: undefined, maxDeliveries: 5 });
  });

  it('names what is missing for Service Bus and for keyless storage', () => {
    const attempt = () => loadConfig({ ...azure, ServiceBus__fullyQualifiedNamespace: '', AzureWebJobsStorage__queueServiceUri: '', ServiceBus__credential: 'password' });
    expect(attempt).toThrow(/ServiceBus__fullyQualifiedNamespace is required when RETRAIN_TRANSPORT is "servicebus"/);
    expect(attempt).toThrow(/AzureWebJobsStorage is required: a storage connection string, or AzureWebJobsStorage__blobServiceUri and __queueServiceUri/);
    expect(attempt).toThrow(/ServiceBus__credential must be "managedidentity" or "default"/);
  });

  it('chooses the trigger by RETRAIN_TRANSPORT alone, and rejects an unknown transport', () => {
    expect(retrainTransport({})).toBe('storage');
    expect(retrainTransport({ RETRAIN_TRANSPORT: 'ServiceBus' })).toBe('servicebus');
    expect(() => retrainTransport({ RETRAIN_TRANSPORT: 'kafka' })).toThrow(/RETRAIN_TRANSPORT must be "storage" or "servicebus", got "kafka"/);
  });
});

describe('toServiceBusMessage', () => {
  const request: RetrainRequest = { model: 'churn', reason: 'data', datasets: ['abc'], requestedAt: '2026-11-24T10:00:00.000Z', key: 'data:churn:abc' };

  it('puts each model in its own session and uses the idempotency key as message id', () => {
    expect(toServiceBusMessage(request)).toEqual({ body: request, contentType: 'application/json', messageId: 'data:churn:abc', sessionId: 'churn', subject: 'data' });
  });

  it('hashes a key longer than the 128 characters Service Bus allows, the same way every time', () => {
    const long = { ...request, key: `data:churn:${'f'.repeat(200)}` };
    const id = toServiceBusMessage(long).messageId;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(toServiceBusMessage(long).messageId).toBe(id);
    expect(toServiceBusMessage({ ...long, key: `${long.key}0` }).messageId).not.toBe(id);
  });

  it('refuses to send a request that breaks the contract, naming the field', () => {
    expect(() => toServiceBusMessage({ ...request, model: 'Not A Name' })).toThrow(/model/);
  });

  it('is accepted by a session-enabled queue, where a message without a session is not', async () => {
    const queue = sessionQueue();
    await new ServiceBusRetrainQueue(queue.createSender()).send(request);
    expect(queue.activeMessageCount).toBe(1);
    await expect(queue.createSender().sendMessages({ body: request, messageId: 'x' })).rejects.toThrow(/SessionId was not set/);
  });
});

describe('retrain over Service Bus (fake namespace, real Azurite, Cosmos and training)', () => {
  it('ignores a duplicate message: once at the broker, and again by idempotency key after the window', async () => {
    const { model, request } = await modelWithData('sb-dup');
    const queue = sessionQueue({ duplicateDetectionWindowMs: 60_000 });
    const sender = new ServiceBusRetrainQueue(queue.createSender());
    await sender.send(request);
    await sender.send({ ...request, requestedAt: new Date().toISOString() });
    expect(queue.duplicatesDropped).toBe(1);

    const deps = receiverDeps();
    const received: string[] = [];
    await queue.runTrigger(trigger(deps, async (r) => void received.push(r.key)), { maxConcurrentSessions: 2 });
    expect(received).toEqual([request.key]);

    // Past the broker's window the same key arrives again; the run document makes it a no-op.
    queue.advance(61_000);
    await sender.send(request);
    expect(queue.duplicatesDropped).toBe(1);
    await queue.runTrigger(trigger(deps, async (r) => void received.push(r.key)), { maxConcurrentSessions: 2 });
    expect(received).toEqual([request.key, request.key]);
    expect((await stack.registry.listVersions(model)).map((v) => v.version)).toEqual([1]);
    expect(queue.deadLetters).toEqual([]);
    expect(deps.log.lines.filter((l) => l.includes('[event] TrainingFinished'))).toHaveLength(1);
  });

  it('abandons a failing request, delivers it again, and dead-letters it after the limit with the reason logged', async () => {
    const { request } = await modelWithData('sb-fail');
    const outage = new Error('Cosmos DB answered 503 Service Unavailable');
    // The registry fails on every call, as during an outage: a transient failure, not bad input.
    const registry = new Proxy(stack.registry, {
      get: (target, property, receiver) => (property === 'getRun' ? async () => Promise.reject(outage) : Reflect.get(target, property, receiver)),
    }) as Registry;
    const deps = receiverDeps({ registry });
    const queue = sessionQueue();
    await new ServiceBusRetrainQueue(queue.createSender()).send(request);

    const deliveries: number[] = [];
    await queue.runTrigger(
      async (message, context) => {
        deliveries.push(Number(context.triggerMetadata?.deliveryCount));
        return trigger(deps)(message, context);
      },
      { maxConcurrentSessions: 1 },
    );

    expect(deliveries).toEqual([1, 2, 3, 4, 5]);
    expect(queue.activeMessageCount).toBe(0);
    expect(queue.deadLetters).toEqual([
      expect.objectContaining({ messageId: request.key, sessionId: request.model, deliveryCount: MAX_DELIVERIES, deadLetterReason: 'MaxDeliveryCountExceeded', body: request }),
    ]);
    expect(deps.log.lines.filter((l) => l.startsWith('warn:') && l.includes('it will be delivered again'))).toHaveLength(4);
    expect(deps.log.lines).toContainEqual(expect.stringMatching(/^error: .*failed on its last delivery 5 of 5; it is parked .*Reason: Cosmos DB answered 503/));
    expect(deps.log.lines).toContainEqual(expect.stringMatching(/\[event\] RetrainDeadLettered model=sb-fail-\S+ key=\S+ reason="Cosmos DB answered 503 Service Unavailable" deliveries=5/));
  });

  it('settles a malformed message at once instead of redelivering it', async () => {
    const queue = new FakeServiceBusQueue({ requiresSession: true, maxDeliveryCount: MAX_DELIVERIES });
    await queue.createSender().sendMessages({ body: { model: 'x', reason: 'because' }, sessionId: 'x', messageId: 'bad-1' });
    const deps = receiverDeps();
    let calls = 0;
    await queue.runTrigger(trigger(deps, async () => void calls++), { maxConcurrentSessions: 1 });
    expect(calls).toBe(1);
    expect(queue.deadLetters).toEqual([]);
    expect(deps.log.lines).toContainEqual(expect.stringMatching(/^error: Discarded a malformed retrain request \(message bad-1\): reason: .*requestedAt/));
  });

  it('trains two models at the same time, but never one model twice at once, in the order requested', async () => {
    const a = await modelWithData('sb-a');
    const b = await modelWithData('sb-b');
    const queue = sessionQueue();
    const sender = new ServiceBusRetrainQueue(queue.createSender());
    const second = { ...a.request, reason: 'manual' as const, key: `manual:${a.model}:second` };
    await sender.send(a.request);
    await sender.send(second);
    await sender.send(b.request);

    const inFlight = new Map<string, number>();
    let most = 0;
    const mostPerModel = new Map<string, number>();
    const order: string[] = [];
    let otherStarted: () => void = () => {};
    const bothStarted = new Promise<void>((resolve) => (otherStarted = resolve));
    const deps = receiverDeps();
    await queue.runTrigger(
      async (message, context) => {
        const { model, key } = message as RetrainRequest;
        order.push(key);
        inFlight.set(model, (inFlight.get(model) ?? 0) + 1);
        mostPerModel.set(model, Math.max(mostPerModel.get(model) ?? 0, inFlight.get(model)!));
        const total = [...inFlight.values()].reduce((s, n) => s + n, 0);
        most = Math.max(most, total);
        try {
          // The first run of each model waits for the other model's first run to start: the
          // trigger must hold both sessions at once, or this never resolves and the test fails.
          if (key !== second.key) {
            if (total >= 2) otherStarted();
            await Promise.race([bothStarted, new Promise((_, reject) => setTimeout(() => reject(new Error(`${model} ran alone: sessions were not processed concurrently`)), 30_000))]);
          }
          return await trigger(deps)(message, context);
        } finally {
          inFlight.set(model, inFlight.get(model)! - 1);
        }
      },
      { maxConcurrentSessions: 2 },
    );

    expect(queue.deadLetters).toEqual([]);
    expect(most).toBe(2);
    expect(mostPerModel).toEqual(new Map([[a.model, 1], [b.model, 1]]));
    expect(order.filter((k) => k.includes(a.model))).toEqual([a.request.key, second.key]);
    expect((await stack.registry.listVersions(a.model)).length).toBeGreaterThanOrEqual(1);
    expect((await stack.registry.listVersions(b.model)).map((v) => v.version)).toEqual([1]);
  });
});
