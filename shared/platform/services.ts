import { CosmosRegistry } from '../registry/cosmos-registry';
import { rebuildRegistry } from '../registry/rebuild';
import type { Registry } from '../registry/registry';
import { ModelCache } from '../serving/model-cache';
import { BlobStore } from './blob-store';
import { loadConfig, type Config } from './config';
import { consoleLogger, type Logger } from './logger';
import { RETRAIN_QUEUE, type RetrainQueue } from './retrain-queue';
import { StorageRetrainQueue } from './storage-retrain-queue';

/** The ports every use case may need, built once per worker process. */
export interface Services {
  readonly config: Config;
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly retrainQueue: RetrainQueue;
  readonly models: ModelCache;
}

let services: Promise<Services> | undefined;

/**
 * Builds the services on first use: reads the settings, creates the blob containers and the
 * registry container, and rebuilds the registry from blob storage when the registry is new
 * (a fresh Cosmos account, or the in-memory Cosmos server after a restart).
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
  const blobs = new BlobStore(config.storageConnection);
  const registry = new CosmosRegistry(config.cosmos);
  await blobs.ensureContainers();
  const fresh = await registry.initialise();
  if (fresh) await rebuildRegistry(blobs, registry, (message) => log.info(message));
  return {
    config,
    blobs,
    registry,
    retrainQueue: new StorageRetrainQueue(config.storageConnection, RETRAIN_QUEUE),
    models: new ModelCache({ blobs, registry, log, aliasCacheMs: config.aliasCacheSeconds * 1000 }),
  };
}
