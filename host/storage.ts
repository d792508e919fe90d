import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';

/** The container where the real host keeps blob receipts and timer status. */
export const HOSTS_CONTAINER = 'azure-webjobs-hosts';
const HOST_STORAGE_SETTING = 'AzureWebJobsStorage';

/**
 * Resolves a binding's `connection` (an app setting name) to a connection string and hands out one client
 * per account. As in the real host, an empty name means `AzureWebJobsStorage`, and `<name>` is also tried
 * as `AzureWebJobs<name>`. The `fallback` (the emulator the local stack started) stands in when the
 * setting is unset or is `UseDevelopmentStorage=true`, which locally means "the emulator".
 */
export class StorageConnections {
  readonly #fallback: string | undefined;
  readonly #env: NodeJS.ProcessEnv;
  readonly #blobClients = new Map<string, BlobServiceClient>();
  readonly #queueClients = new Map<string, QueueServiceClient>();

  constructor(fallback: string | undefined, env: NodeJS.ProcessEnv = process.env) {
    this.#fallback = fallback || undefined;
    this.#env = env;
  }

  /** @param purpose names who needs it, for the error message (e.g. `Function 'ingest'`). */
  resolve(settingName: string | undefined, purpose: string): string {
    const name = settingName || HOST_STORAGE_SETTING;
    const value = this.#env[name] || this.#env[`AzureWebJobs${name}`] || undefined;
    if (value && !(this.#fallback && /^\s*UseDevelopmentStorage\s*=\s*true\s*;?\s*$/i.test(value))) return value;
    if (this.#fallback) return this.#fallback;
    const identity = Object.keys(this.#env).some((key) => key.toLowerCase().startsWith(`${name.toLowerCase()}__`));
    throw new Error(
      `${purpose}: the connection setting "${name}" is not set. Set it (in local.settings.json Values or the environment) ` +
        `to a storage connection string${identity ? '; identity-based connections (' + name + '__serviceUri) are not supported by the local host' : ''}.`,
    );
  }

  blobService(settingName: string | undefined, purpose: string): BlobServiceClient {
    const connection = this.resolve(settingName, purpose);
    let client = this.#blobClients.get(connection);
    if (!client) {
      client = BlobServiceClient.fromConnectionString(connection);
      this.#blobClients.set(connection, client);
    }
    return client;
  }

  queueService(settingName: string | undefined, purpose: string): QueueServiceClient {
    const connection = this.resolve(settingName, purpose);
    let client = this.#queueClients.get(connection);
    if (!client) {
      client = QueueServiceClient.fromConnectionString(connection);
      this.#queueClients.set(connection, client);
    }
    return client;
  }

  /** The host's own storage (`AzureWebJobsStorage`): receipts, timer status, the blob trigger queue. */
  hostBlobService(): BlobServiceClient {
    return this.blobService(HOST_STORAGE_SETTING, 'The host storage (blob receipts, timer status)');
  }

  hostQueueService(): QueueServiceClient {
    return this.queueService(HOST_STORAGE_SETTING, 'The host storage (blob trigger queue)');
  }
}

/** Encodes a message body as host.json `messageEncoding` says (base64 by default, as Azure does). */
export function encodeMessage(text: string, encoding: 'base64' | 'none'): string {
  return encoding === 'base64' ? Buffer.from(text, 'utf8').toString('base64') : text;
}

/** Decodes a message body; undefined when it is not valid base64 under base64 encoding. */
export function decodeMessage(text: string, encoding: 'base64' | 'none'): string | undefined {
  if (encoding === 'none') return text;
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** Queue names as Azure Storage accepts them; the real host lower-cases the binding's name first. */
export function normalizeQueueName(name: string, purpose: string): string {
  const lower = name.toLowerCase();
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(lower)) {
    throw new Error(`${purpose}: "${name}" is not a valid queue name (3-63 characters: lowercase letters, digits and single dashes, starting and ending with a letter or digit).`);
  }
  return lower;
}

export function validateContainerName(name: string, purpose: string): string {
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(name) && name !== '$root') {
    throw new Error(`${purpose}: "${name}" is not a valid container name (3-63 characters: lowercase letters, digits and single dashes).`);
  }
  return name;
}

/** True for a storage error with this HTTP status (and, if given, this error code). */
export function isStorageError(err: unknown, status: number, code?: string): boolean {
  if (typeof err !== 'object' || err === null || !('statusCode' in err)) return false;
  const error = err as { statusCode?: number; code?: string; details?: { errorCode?: string } };
  if (error.statusCode !== status) return false;
  return code === undefined || error.code === code || error.details?.errorCode === code;
}

/** True when the error is the abort the host raised itself while stopping. */
export function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: string }).name === 'AbortError';
}
