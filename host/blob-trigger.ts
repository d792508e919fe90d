import type { BlobItem, BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { QueueServiceClient } from '@azure/storage-queue';
import { resolveAppSettings, type FunctionDefinition } from './function-definition';
import type { Invoker } from './invoker';
import { toError, type HostLogger, type HostLogLevel } from './logger';
import { QueueListener, type MessageOutcome } from './queue-listener';
import type { QueuePolling } from './queue-trigger';
import type { HostSettings } from './settings';
import { decodeMessage, encodeMessage, HOSTS_CONTAINER, isAbort, isStorageError, validateContainerName, type StorageConnections } from './storage';

/** The queue where the real host parks poison blobs, shared by every function app on the account. */
export const BLOB_POISON_QUEUE = 'webjobs-blobtrigger-poison';

/** A blob trigger `path`: `container/pattern`, where `{name}` captures (greedy, as the host's binding templates). */
export interface BlobPath {
  readonly text: string;
  readonly container: string;
  /** The literal start of the blob name, used as the listing prefix. */
  readonly prefix: string;
  match(blobName: string): Record<string, string> | undefined;
}

export function parseBlobPath(text: string, purpose: string): BlobPath {
  const slash = text.indexOf('/');
  const container = slash < 0 ? text : text.slice(0, slash);
  const pattern = slash < 0 ? '' : text.slice(slash + 1);
  if (container.includes('{')) throw new Error(`${purpose}: the container in blob path "${text}" must be a literal name.`);
  validateContainerName(container, purpose);

  const names: string[] = [];
  let source = '^';
  let prefix: string | undefined;
  let literal = '';
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.startsWith('{{', i) || pattern.startsWith('}}', i)) {
      literal += pattern[i];
      i++;
    } else if (pattern[i] === '{') {
      const end = pattern.indexOf('}', i);
      const name = pattern.slice(i + 1, end);
      if (end < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`${purpose}: blob path "${text}" has an invalid parameter near "${pattern.slice(i)}".`);
      if (names.includes(name)) throw new Error(`${purpose}: blob path "${text}" uses {${name}} twice.`);
      prefix ??= literal;
      source += `${escapeRegExp(literal)}(.*)`;
      literal = '';
      names.push(name);
      i = end;
    } else literal += pattern[i];
  }
  source += `${escapeRegExp(literal)}$`;
  prefix ??= literal;
  const regex = new RegExp(source);
  return {
    text,
    container,
    prefix,
    match(blobName) {
      const found = regex.exec(blobName);
      if (!found) return undefined;
      return Object.fromEntries(names.map((name, i) => [name, found[i + 1] as string]));
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The message the real host puts on its blob trigger queue, and on the poison queue when it gives up. */
interface BlobTriggerMessage {
  Type: 'BlobTrigger';
  FunctionId: string;
  BlobType: string;
  ContainerName: string;
  BlobName: string;
  ETag: string;
}

interface WatchedFunction {
  readonly definition: FunctionDefinition;
  readonly path: BlobPath;
  readonly blobService: BlobServiceClient;
}

export interface BlobTriggerDeps {
  readonly connections: StorageConnections;
  readonly settings: HostSettings;
  readonly hostId: string;
  readonly invoker: Invoker;
  readonly log: HostLogger;
  readonly scanIntervalMs: number;
  readonly queuePolling: QueuePolling;
}

/**
 * Blob triggers as the Functions host (storage extension 5.x, `LogsAndContainerScan`) runs them:
 * 1. scan each watched container; for every blob matching a function's path whose ETag has no completed
 *    receipt `azure-webjobs-hosts/blobreceipts/{hostId}/{functionId}/{etag}/{container}/{blob}`, create
 *    the receipt (incomplete, leased), enqueue a message on `azure-webjobs-blobtrigger-{hostId}` and
 *    complete the receipt: each version of a blob is taken once, even across restarts;
 * 2. a queue listener on that queue runs the function with the blob's bytes, retries a failure up to
 *    `poisonBlobThreshold` dequeues and then copies the message to `webjobs-blobtrigger-poison`.
 */
export class BlobTriggerListener {
  readonly #deps: BlobTriggerDeps;
  readonly #functions: WatchedFunction[];
  readonly #byId: Map<string, WatchedFunction>;
  readonly #receipts: ContainerClient;
  readonly #queue: QueueListener;
  readonly #queueService: QueueServiceClient;
  readonly #queueName: string;
  /** functionId → blob name → ETag already handed over (a cache in front of the receipts). */
  readonly #seen = new Map<string, Map<string, string>>();
  readonly #abort = new AbortController();
  #scanning: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #running = false;

  constructor(definitions: readonly FunctionDefinition[], deps: BlobTriggerDeps) {
    this.#deps = deps;
    this.#functions = definitions.map((definition) => {
      const purpose = `Function '${definition.name}'`;
      return {
        definition,
        path: parseBlobPath(resolveAppSettings(String(definition.trigger.path), purpose), purpose),
        blobService: deps.connections.blobService(definition.trigger.connection as string | undefined, purpose),
      };
    });
    this.#byId = new Map(this.#functions.map((watched) => [watched.definition.id, watched]));
    this.#receipts = deps.connections.hostBlobService().getContainerClient(HOSTS_CONTAINER);
    this.#queueService = deps.connections.hostQueueService();
    this.#queueName = `azure-webjobs-blobtrigger-${deps.hostId}`;
    const { blobs, queues } = deps.settings;
    // The host runs the shared blob queue with maxDegreeOfParallelism invocations at most.
    const batchSize = Math.min(blobs.maxDegreeOfParallelism, 32);
    this.#queue = new QueueListener({
      queue: this.#queueService.getQueueClient(this.#queueName),
      poisonQueue: this.#queueService.getQueueClient(BLOB_POISON_QUEUE),
      settings: {
        batchSize,
        newBatchThreshold: Math.max(0, blobs.maxDegreeOfParallelism - batchSize),
        maxDequeueCount: blobs.poisonBlobThreshold,
        visibilityTimeoutMs: queues.visibilityTimeoutMs,
      },
      minPollingIntervalMs: deps.queuePolling.minIntervalMs,
      maxPollingIntervalMs: deps.queuePolling.maxIntervalMs,
      messageLeaseMs: deps.queuePolling.messageLeaseMs,
      log: (level, message, error) => this.#log(level, message, undefined, error),
      process: (message) => this.#execute(message.messageText),
    });
  }

  async start(): Promise<void> {
    // Independent round trips on every start of the host: in parallel.
    await Promise.all([this.#receipts.createIfNotExists(), ...this.#containers().map((container) => container.client.createIfNotExists()), this.#queue.start()]);
    this.#running = true;
    this.#scanning = this.#scanLoop();
  }

  async stop(drainMs: number): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    this.#wake?.();
    await this.#scanning;
    await this.#queue.stop(drainMs);
  }

  /** One client per watched container, with the functions that watch it. */
  #containers(): { client: ContainerClient; functions: WatchedFunction[] }[] {
    const groups = new Map<string, { client: ContainerClient; functions: WatchedFunction[] }>();
    for (const watched of this.#functions) {
      const client = watched.blobService.getContainerClient(watched.path.container);
      const group = groups.get(client.url) ?? { client, functions: [] };
      group.functions.push(watched);
      groups.set(client.url, group);
    }
    return [...groups.values()];
  }

  async #scanLoop(): Promise<void> {
    const containers = this.#containers();
    while (this.#running) {
      for (const { client, functions } of containers) {
        try {
          await this.#scan(client, functions);
        } catch (err) {
          if (!this.#running || isAbort(err)) return;
          this.#log('warning', `Scanning container '${client.containerName}' failed: ${toError(err).message}`);
        }
      }
      if (!this.#running) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#deps.scanIntervalMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
    }
  }

  async #scan(container: ContainerClient, functions: readonly WatchedFunction[]): Promise<void> {
    const prefix = commonPrefix(functions.map((watched) => watched.path.prefix));
    const listing = container.listBlobsFlat({ prefix: prefix || undefined, abortSignal: this.#abort.signal }).byPage({ maxPageSize: 1000 });
    for await (const page of listing) {
      for (const blob of page.segment.blobItems) {
        for (const watched of functions) {
          if (!this.#running) return;
          if (!watched.path.match(blob.name)) continue;
          const seen = this.#seenFor(watched.definition.id);
          const etag = quotedETag(blob.properties.etag);
          if (seen.get(blob.name) === etag) continue;
          if (await this.#handOver(watched, container.containerName, blob, etag)) seen.set(blob.name, etag);
        }
      }
    }
  }

  #seenFor(functionId: string): Map<string, string> {
    let seen = this.#seen.get(functionId);
    if (!seen) this.#seen.set(functionId, (seen = new Map()));
    return seen;
  }

  /** The receipt protocol of the host's BlobTriggerExecutor; true once this blob version needs nothing more. */
  async #handOver(watched: WatchedFunction, containerName: string, blob: BlobItem, etag: string): Promise<boolean> {
    const { definition } = watched;
    const receipt = this.#receipts.getBlockBlobClient(`blobreceipts/${this.#deps.hostId}/${definition.id}/${etag}/${containerName}/${blob.name}`);
    const signal = this.#abort.signal;

    const existing = await receipt.getProperties({ abortSignal: signal }).catch((err: unknown) => {
      if (isStorageError(err, 404)) return undefined;
      throw err;
    });
    if (existing && !isIncomplete(existing.metadata)) return true;
    if (!existing) {
      try {
        await receipt.upload('', 0, { metadata: { Incomplete: 'Incomplete' }, conditions: { ifNoneMatch: '*' }, abortSignal: signal });
      } catch (err) {
        if (isStorageError(err, 409) || isStorageError(err, 412)) return false; // another host just created it
        throw err;
      }
    }
    const lease = receipt.getBlobLeaseClient();
    try {
      await lease.acquireLease(30, { abortSignal: signal });
    } catch (err) {
      if (isStorageError(err, 409) || isStorageError(err, 404)) return false; // someone else is handing it over
      throw err;
    }
    try {
      const current = await receipt.getProperties({ abortSignal: signal });
      if (!isIncomplete(current.metadata)) return true;
      const message: BlobTriggerMessage = {
        Type: 'BlobTrigger',
        FunctionId: definition.id,
        BlobType: blobTypeName(blob.properties.blobType),
        ContainerName: containerName,
        BlobName: blob.name,
        ETag: etag,
      };
      const queue = this.#queueService.getQueueClient(this.#queueName);
      await queue.sendMessage(encodeMessage(JSON.stringify(message), this.#deps.settings.queues.messageEncoding), { abortSignal: signal });
      const metadata = Object.fromEntries(Object.entries(current.metadata ?? {}).filter(([key]) => key.toLowerCase() !== 'incomplete'));
      await receipt.setMetadata(metadata, { conditions: { leaseId: lease.leaseId }, abortSignal: signal });
      this.#log('debug', `Blob '${containerName}/${blob.name}' (ETag ${etag}) queued for function '${definition.name}'.`, definition.name);
      this.#queue.notify();
      return true;
    } finally {
      await lease.releaseLease().catch(() => undefined);
    }
  }

  /** Runs the function for one blob trigger message (the host's BlobQueueTriggerExecutor). */
  async #execute(messageText: string): Promise<MessageOutcome> {
    const encoding = this.#deps.settings.queues.messageEncoding;
    const text = decodeMessage(messageText, encoding);
    let message: BlobTriggerMessage;
    try {
      message = JSON.parse(text ?? '') as BlobTriggerMessage;
    } catch {
      return { outcome: 'poison', reason: 'the blob trigger message is not valid JSON' };
    }
    const watched = this.#byId.get(message.FunctionId);
    if (!watched) {
      this.#log('warning', `No function '${message.FunctionId}' in this app for blob '${message.ContainerName}/${message.BlobName}'; message ignored.`);
      return { outcome: 'succeeded' };
    }
    const blobClient = watched.blobService.getContainerClient(message.ContainerName).getBlobClient(message.BlobName);
    let download;
    try {
      download = await blobClient.download(0, undefined, { conditions: { ifMatch: message.ETag } });
    } catch (err) {
      // Deleted, or changed since: the new version has its own ETag and its own receipt.
      if (isStorageError(err, 404) || isStorageError(err, 412)) return { outcome: 'succeeded' };
      throw err;
    }
    const content = await readAll(download.readableStreamBody);
    const captures = watched.path.match(message.BlobName) ?? {};
    const outcome = await this.#deps.invoker.invoke(watched.definition, {
      input: content,
      reason: `New blob detected(LogsAndContainerScan): ${message.ContainerName}/${message.BlobName}`,
      triggerMetadata: {
        ...captures,
        blobTrigger: `${message.ContainerName}/${message.BlobName}`,
        uri: blobClient.url,
        properties: {
          // @azure/functions camel-cases the host's BlobProperties (contentLength, eTag); the short names are aliases.
          length: content.length,
          contentLength: content.length,
          etag: download.etag,
          eTag: download.etag,
          lastModified: download.lastModified?.toISOString(),
          createdOn: download.createdOn?.toISOString(),
          contentType: download.contentType,
          contentEncoding: download.contentEncoding,
          contentMD5: download.blobContentMD5 ? Buffer.from(download.blobContentMD5).toString('base64') : undefined,
          blobType: message.BlobType,
        },
        metadata: download.metadata ?? {},
      },
    });
    return outcome.succeeded ? { outcome: 'succeeded' } : { outcome: 'failed', reason: outcome.error.message };
  }

  #log(level: HostLogLevel, message: string, functionName?: string, error?: Error): void {
    this.#deps.log({ level, message, error, functionName, category: 'Host.Triggers.Blob' });
  }
}

/** Listings give ETags bare, headers quoted; receipts and If-Match use the quoted form, as the host does. */
function quotedETag(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function isIncomplete(metadata: Record<string, string> | undefined): boolean {
  return Object.keys(metadata ?? {}).some((key) => key.toLowerCase() === 'incomplete');
}

/** "BlockBlob" as the host serializes it (track-1 names). */
function blobTypeName(type: string | undefined): string {
  return type ?? 'BlockBlob';
}

function commonPrefix(prefixes: readonly string[]): string {
  if (prefixes.length === 0) return '';
  let prefix = prefixes[0] as string;
  for (const other of prefixes) while (!other.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
