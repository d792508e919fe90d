import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { BlobStore } from '../../shared/platform/blob-store';
import { silentLogger, type Logger } from '../../shared/platform/logger';
import { StorageRetrainQueue } from '../../shared/platform/storage-retrain-queue';
import { CosmosRegistry } from '../../shared/registry/cosmos-registry';
import { ModelCache } from '../../shared/serving/model-cache';

export interface TestStack {
  readonly blobs: BlobStore;
  readonly registry: CosmosRegistry;
  readonly retrainQueue: StorageRetrainQueue;
  readonly queueName: string;
  readonly models: ModelCache;
  readonly log: Logger;
  readonly storageConnection: string;
}

/**
 * Real ports on the run's shared Azurite and Cosmos server. Each call gets its own Cosmos
 * database and retrain queue, so test files running in parallel never see each other's
 * registry; blob containers are the contract's, so tests use model names of their own.
 */
export async function testStack(options: { database?: string; storageConnection?: string } = {}): Promise<TestStack> {
  const storageConnection = options.storageConnection ?? inject('storageConnection');
  const blobs = new BlobStore(storageConnection);
  await blobs.ensureContainers();
  const registry = new CosmosRegistry({
    endpoint: inject('cosmosEndpoint'),
    key: inject('cosmosKey'),
    database: options.database ?? `test-${randomUUID().slice(0, 8)}`,
    container: 'registry',
  });
  await registry.initialise();
  const queueName = `retrain-${randomUUID().slice(0, 8)}`;
  return {
    blobs,
    registry,
    retrainQueue: new StorageRetrainQueue(storageConnection, queueName),
    queueName,
    models: new ModelCache({ blobs, registry, log: silentLogger, aliasCacheMs: 0 }),
    log: silentLogger,
    storageConnection,
  };
}

/**
 * For tests that call function handlers: points the functions' own services (`getServices`) at the
 * run's Azurite and at a Cosmos database of the calling file's own, and returns a stack on the same
 * database, so the test sees what the handlers wrote.
 */
export async function functionsStack(prefix: string): Promise<TestStack> {
  const database = `${prefix}-${randomUUID().slice(0, 8)}`;
  process.env.AzureWebJobsStorage = inject('storageConnection');
  process.env.COSMOS_ENDPOINT = inject('cosmosEndpoint');
  process.env.COSMOS_KEY = inject('cosmosKey');
  process.env.COSMOS_DATABASE = database;
  return testStack({ database });
}

/** A model name no other test uses. */
export function uniqueModel(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Two well-separated classes (and a regression target) in CSV, deterministic. */
export function separableCsv(rows: number, seed = 1): string {
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const lines = ['x1,x2,color,label,amount'];
  for (let i = 0; i < rows; i++) {
    const positive = i % 2 === 0;
    const x1 = (positive ? 5 : -5) + random() * 2 - 1;
    const x2 = random() * 10;
    const color = positive ? (random() < 0.8 ? 'red' : 'blue') : random() < 0.8 ? 'blue' : 'red';
    const amount = 3 * x1 - 2 * x2 + 7;
    lines.push(`${x1.toFixed(4)},${x2.toFixed(4)},${color},${positive ? 'yes' : 'no'},${amount.toFixed(4)}`);
  }
  return lines.join('\n') + '\n';
}

/** Drops a file the way a user does (a blob under `datasets/`) and judges it, as the blob trigger would. */
export async function dropFile(stack: TestStack, model: string, file: string, text: string) {
  const { ingestDrop } = await import('../../shared/data/ingest-drop');
  await stack.blobs.write('datasets', `${model}/${file}`, text);
  return ingestDrop({ ...stack, maxDropBytes: 64 * 1024 * 1024 }, { model, file, bytes: Buffer.from(text) });
}

/** A model with versions 1 (production) and 2 (challenger), trained for real. */
export async function modelWithTwoVersions(stack: TestStack, prefix: string): Promise<string> {
  const { defineModel } = await import('../../shared/registry/define-model');
  const { retrain } = await import('../../shared/training/retrain');
  const { drainRetrainRequests } = await import('./queue');
  const model = uniqueModel(prefix);
  await defineModel(stack, model, { task: 'classification', target: 'label' });
  await dropFile(stack, model, 'data.csv', separableCsv(80));
  const [request] = (await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model);
  const deps = { ...stack, timeBudgetSeconds: 60, holdoutFraction: 0.2 };
  await retrain(deps, request!);
  await retrain(deps, { ...request!, key: `${request!.key}:again` });
  return model;
}
