// First: it starts the background warm-up (ICU, ONNX Runtime) before the SDKs below load.
import './start-warm-up';
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { CosmosRegistry } from '../registry/cosmos-registry';
import type { Registry } from '../registry/registry';
import { ModelCache } from '../serving/model-cache';
import { BlobStore } from './blob-store';
import { loadConfig, type Config, type IdentitySettings } from './config';
import { consoleLogger, type Logger } from './logger';
import { RETRAIN_QUEUE, type RetrainQueue } from './retrain-queue';
import { startTelemetry, type Telemetry } from './telemetry';

/** The ports every use case may need, built once per worker process. */
export interface Services {
  readonly config: Config;
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly retrainQueue: RetrainQueue;
  readonly models: ModelCache;
  readonly telemetry: Telemetry;
}

let services: Promise<Services> | undefined;

/**
 * Builds the services on first use: reads the settings, finds (or creates) the registry container,
 * and rebuilds the registry from blob storage when the registry is new (a fresh Cosmos account, or
 * the in-memory Cosmos server after a restart). Blob containers are made on the first write to each
 * (`BlobStore`), so a cold instance's first request waits for one registry round trip here.
 */
export function getServices(): Promise<Services> {
  services ??= createServices(consoleLogger).catch((err: unknown) => {
    services = undefined;
    throw err;
  });
  return services;
}

async function createServices(log: Logger): Promise<Services> {
  const config = loadConfig();
  const telemetry = startTelemetry({ connectionString: config.applicationInsightsConnectionString, authenticationString: config.applicationInsightsAuthenticationString }, log);
  const blobs = new BlobStore(config.storage.kind === 'connectionString' ? config.storage.connectionString : new BlobServiceClient(config.storage.blobServiceUri, credentialOf(config.storage.identity)));
  const registry = new CosmosRegistry({ ...config.cosmos, credential: config.cosmos.identity && credentialOf(config.cosmos.identity) });
  const fresh = await registry.initialise();
  if (fresh) {
    const { rebuildRegistry } = await import('../registry/rebuild');
    await rebuildRegistry(blobs, registry, (message) => log.info(message));
  }
  return {
    config,
    blobs,
    registry,
    retrainQueue: onFirstUse(() => retrainQueueOf(config)),
    telemetry,
    models: new ModelCache({ blobs, registry, log, aliasCacheMs: config.aliasCacheSeconds * 1000, maxBytes: config.serving.modelCacheBytes }),
  };
}

/**
 * The retrain queue, built on its first request: its SDK (Storage queue or Service Bus) is not on the
 * scoring path, so a cold instance that only scores never loads it.
 */
function onFirstUse(build: () => Promise<RetrainQueue>): RetrainQueue {
  let queue: Promise<RetrainQueue> | undefined;
  const built = (): Promise<RetrainQueue> =>
    (queue ??= build().catch((err: unknown) => {
      queue = undefined;
      throw err;
    }));
  return {
    send: async (request) => (await built()).send(request),
    ping: async () => (await built()).ping(),
  };
}

/** The retrain transport the settings choose: the Storage queue (local default) or Service Bus. */
async function retrainQueueOf(config: Config): Promise<RetrainQueue> {
  const serviceBus = config.retrain.serviceBus;
  if (config.retrain.transport === 'servicebus' && serviceBus) {
    const [{ ServiceBusClient }, { ServiceBusRetrainQueue }] = await Promise.all([import('@azure/service-bus'), import('./service-bus-retrain-queue')]);
    const client = new ServiceBusClient(serviceBus.fullyQualifiedNamespace, credentialOf(serviceBus.identity));
    return new ServiceBusRetrainQueue(client.createSender(RETRAIN_QUEUE));
  }
  const { StorageRetrainQueue } = await import('./storage-retrain-queue');
  if (config.storage.kind === 'connectionString') return new StorageRetrainQueue(config.storage.connectionString, RETRAIN_QUEUE);
  const { QueueClient } = await import('@azure/storage-queue');
  const queueUrl = `${config.storage.queueServiceUri.replace(/\/+$/, '')}/${RETRAIN_QUEUE}`;
  return new StorageRetrainQueue(new QueueClient(queueUrl, credentialOf(config.storage.identity)), RETRAIN_QUEUE);
}

/**
 * The credential of an identity-based connection, as the Functions host reads the same settings:
 * `managedidentity` (with a client id for a user-assigned identity), or DefaultAzureCredential
 * (a developer's `az login` against real resources).
 */
function credentialOf(identity: IdentitySettings): TokenCredential {
  const { DefaultAzureCredential, ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
  if (identity.kind === 'managedidentity') return new ManagedIdentityCredential(identity.clientId ? { clientId: identity.clientId } : {});
  return new DefaultAzureCredential(identity.clientId ? { managedIdentityClientId: identity.clientId } : {});
}
