import { BlobServiceClient, RestError, type ContainerClient } from '@azure/storage-blob';

/** The blob containers of the product contract. */
export const CONTAINERS = {
  datasets: 'datasets',
  modelsIncoming: 'models-incoming',
  models: 'models',
  reports: 'reports',
  inferenceLogs: 'inference-logs',
} as const;

export interface StoredBlob {
  readonly bytes: Buffer;
  readonly etag: string;
  readonly lastModified: Date;
}

export interface BlobListing {
  readonly name: string;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface WriteOptions {
  readonly contentType?: string;
  /** Write only if the blob still has this ETag (optimistic concurrency). */
  readonly ifMatch?: string;
  /** Write only if no blob exists yet. */
  readonly ifNotExists?: boolean;
}

/**
 * Blob storage as the product uses it: whole-blob reads and writes, listing by prefix.
 * A missing container is made when something is first written to it; until then reads and listings
 * find nothing in it. So a cold instance's first request waits for no container round trips: in
 * Azure the infrastructure made the containers, and `npm start` makes them as the stack starts.
 */
export class BlobStore {
  readonly #service: BlobServiceClient;
  readonly #containers = new Map<string, ContainerClient>();
  #ensured: Promise<void> | undefined;

  /** A connection string (Azurite, keys), or a client signed in with a managed identity. */
  constructor(connection: string | BlobServiceClient) {
    this.#service = typeof connection === 'string' ? BlobServiceClient.fromConnectionString(connection) : connection;
  }

  /** Creates the contract's containers if they are missing (`npm start`, tests); safe to call many times. */
  ensureContainers(): Promise<void> {
    this.#ensured ??= Promise.all(Object.values(CONTAINERS).map((name) => this.#container(name).createIfNotExists())).then(
      () => undefined,
      (err: unknown) => {
        this.#ensured = undefined;
        throw err;
      },
    );
    return this.#ensured;
  }

  async read(container: string, name: string): Promise<StoredBlob | undefined> {
    try {
      const blob = this.#container(container).getBlobClient(name);
      const response = await blob.download();
      const bytes = await streamToBuffer(response.readableStreamBody);
      return { bytes, etag: response.etag ?? '', lastModified: response.lastModified ?? new Date(0) };
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /**
   * The blob's content as a stream of chunks, for readers whose memory must not grow with the
   * blob (the inference log, large drops); undefined when the blob does not exist.
   */
  async openRead(container: string, name: string): Promise<{ stream: NodeJS.ReadableStream; size: number; etag: string } | undefined> {
    try {
      const response = await this.#container(container).getBlobClient(name).download();
      if (!response.readableStreamBody) return undefined;
      return { stream: response.readableStreamBody, size: response.contentLength ?? 0, etag: response.etag ?? '' };
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  async readJson(container: string, name: string): Promise<{ value: unknown; etag: string } | undefined> {
    const blob = await this.read(container, name);
    if (!blob) return undefined;
    return { value: JSON.parse(blob.bytes.toString('utf8')), etag: blob.etag };
  }

  /** Returns the new ETag; throws a RestError with status 412/409 when a condition fails. */
  async write(container: string, name: string, content: Uint8Array | string, options: WriteOptions = {}): Promise<string> {
    const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const upload = () =>
      this.#container(container)
        .getBlockBlobClient(name)
        .uploadData(body, {
          blobHTTPHeaders: { blobContentType: options.contentType ?? 'application/octet-stream' },
          conditions: options.ifMatch ? { ifMatch: options.ifMatch } : options.ifNotExists ? { ifNoneMatch: '*' } : undefined,
        });
    let response: Awaited<ReturnType<typeof upload>>;
    try {
      response = await upload();
    } catch (err) {
      if (!isContainerMissing(err)) throw err;
      await this.#container(container).createIfNotExists();
      response = await upload();
    }
    return response.etag ?? '';
  }

  writeJson(container: string, name: string, value: unknown, options: WriteOptions = {}): Promise<string> {
    return this.write(container, name, JSON.stringify(value, null, 2), { contentType: 'application/json', ...options });
  }

  /** Deletes a blob; true if it existed. */
  async delete(container: string, name: string): Promise<boolean> {
    try {
      const response = await this.#container(container).getBlobClient(name).deleteIfExists();
      return response.succeeded;
    } catch (err) {
      if (isContainerMissing(err)) return false;
      throw err;
    }
  }

  async list(container: string, prefix = ''): Promise<BlobListing[]> {
    const out: BlobListing[] = [];
    try {
      for await (const item of this.#container(container).listBlobsFlat({ prefix })) {
        out.push({
          name: item.name,
          etag: item.properties.etag ?? '',
          size: item.properties.contentLength ?? 0,
          lastModified: item.properties.lastModified ?? new Date(0),
        });
      }
    } catch (err) {
      if (!isContainerMissing(err)) throw err;
    }
    return out;
  }

  /** The virtual folders directly under `prefix` (which ends with `/`), each returned with its trailing `/`. */
  async listFolders(container: string, prefix: string): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const item of this.#container(container).listBlobsByHierarchy('/', { prefix })) {
        if (item.kind === 'prefix') out.push(item.name);
      }
    } catch (err) {
      if (!isContainerMissing(err)) throw err;
    }
    return out;
  }

  /** Cheap reachability check for `GET /health`. */
  async ping(): Promise<void> {
    // A container read, not service properties: the data-plane roles a managed identity holds allow it.
    await this.#container(CONTAINERS.models).exists();
  }

  #container(name: string): ContainerClient {
    let client = this.#containers.get(name);
    if (!client) {
      client = this.#service.getContainerClient(name);
      this.#containers.set(name, client);
    }
    return client;
  }
}

function isContainerMissing(err: unknown): boolean {
  return err instanceof RestError && err.statusCode === 404 && err.code === 'ContainerNotFound';
}

/** True when a conditional write lost the race (the blob changed or already exists). */
export function isConditionFailure(err: unknown): boolean {
  return err instanceof RestError && (err.statusCode === 412 || err.statusCode === 409);
}

async function streamToBuffer(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
