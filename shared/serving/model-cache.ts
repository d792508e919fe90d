import * as ort from 'onnxruntime-node';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ModelloopError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { VersionDocument } from '../registry/documents';
import { artifactPath } from '../registry/manifest';
import type { Registry } from '../registry/registry';
import { MODEL_NAME } from '../data/model-definition';
import { sessionOptions } from './session-options';

export interface ModelCacheOptions {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly log: Logger;
  /** How long a resolved alias is reused before the registry is asked again. @default 2000 */
  readonly aliasCacheMs?: number;
  /** Sessions are evicted, least recently used first, above this many artifact bytes. @default 512 MiB */
  readonly maxBytes?: number;
  /** ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime pick (one per core). @default 1 */
  readonly intraOpThreads?: number;
}

/** Which version a request wants: a number, an alias, or neither (then `production`). */
export interface VersionSelector {
  readonly version?: number;
  readonly alias?: string;
}

/** A loaded version; call `release()` when the request is done with it. */
export interface ModelLease {
  readonly version: VersionDocument;
  readonly session: ort.InferenceSession;
  release(): void;
}

interface Entry {
  readonly key: string;
  readonly loading: Promise<{ version: VersionDocument; session: ort.InferenceSession; bytes: number }>;
  bytes: number;
  inFlight: number;
  evicted: boolean;
}

/**
 * Per-worker cache of ONNX Runtime sessions, keyed by model and version (versions never change,
 * so a session stays valid for its lifetime). Aliases resolve through a short-lived cache, so a
 * moved `production` is served within `aliasCacheMs`. An evicted session is released only after
 * its in-flight requests finish.
 */
export class ModelCache {
  readonly #options: ModelCacheOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #aliases = new Map<string, { version: number; expires: number }>();
  readonly #lookups = new Map<string, Promise<number>>();
  #bytes = 0;

  constructor(options: ModelCacheOptions) {
    this.#options = options;
  }

  async resolve(model: string, selector: VersionSelector = {}): Promise<number> {
    if (!MODEL_NAME.test(model)) throw new ModelloopError('InvalidInput', `Model name "${model}" is not valid.`);
    if (selector.version !== undefined) return selector.version;
    const alias = selector.alias ?? 'production';
    const cacheKey = `${model}\u0000${alias}`;
    const cached = this.#aliases.get(cacheKey);
    if (cached && cached.expires > Date.now()) return cached.version;
    // Under load every request in flight finds the entry expired at once: one registry read answers them all.
    let lookup = this.#lookups.get(cacheKey);
    if (!lookup) {
      lookup = this.#lookUp(model, alias, cacheKey);
      this.#lookups.set(cacheKey, lookup);
      const settled = (): void => void this.#lookups.delete(cacheKey);
      lookup.then(settled, settled);
    }
    return lookup;
  }

  async #lookUp(model: string, alias: string, cacheKey: string): Promise<number> {
    const doc = await this.#options.registry.getModel(model);
    if (!doc) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined. GET /models lists the models there are.`);
    const version = doc.aliases[alias];
    if (version === undefined) {
      const hint = doc.latestVersion === 0 ? 'it has no trained version yet; drop data to train one' : `its aliases are: ${Object.keys(doc.aliases).join(', ') || 'none'}`;
      throw new ModelloopError('VersionNotFound', `Model "${model}" has no "${alias}" version to serve: ${hint}.`);
    }
    this.#aliases.set(cacheKey, { version, expires: Date.now() + (this.#options.aliasCacheMs ?? 2000) });
    return version;
  }

  /** Resolves the selector and returns a loaded session, loading it on first use. */
  async acquire(model: string, selector: VersionSelector = {}): Promise<ModelLease> {
    const version = await this.resolve(model, selector);
    const key = `${model}@${version}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { key, loading: this.#load(model, version), bytes: 0, inFlight: 0, evicted: false };
      this.#entries.set(key, entry);
      const created = entry;
      created.loading.then(
        (loaded) => {
          // An entry evicted while it was loading no longer counts against the bound.
          if (created.evicted) return;
          created.bytes = loaded.bytes;
          this.#bytes += loaded.bytes;
          this.#evict();
        },
        () => this.#entries.delete(key),
      );
    } else {
      // Map order is recency order: move the entry to the back.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    entry.inFlight++;
    try {
      const loaded = await entry.loading;
      const held = entry;
      let released = false;
      return {
        version: loaded.version,
        session: loaded.session,
        release: () => {
          if (released) return;
          released = true;
          held.inFlight--;
          if (held.evicted && held.inFlight === 0) void loaded.session.release();
        },
      };
    } catch (err) {
      entry.inFlight--;
      throw err;
    }
  }

  /** Releases every session (shutdown). */
  async close(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) {
      try {
        await (await entry.loading).session.release();
      } catch {
        // A session that failed to load has nothing to release.
      }
    }
  }

  async #load(model: string, version: number): Promise<{ version: VersionDocument; session: ort.InferenceSession; bytes: number }> {
    // Both round trips need only the version number, so a cold start waits for the slower, not their sum.
    const [doc, blob] = await Promise.all([
      this.#options.registry.getVersion(model, version),
      this.#options.blobs.read(CONTAINERS.models, artifactPath(model, version)),
    ]);
    if (!doc) {
      const exists = await this.#options.registry.getModel(model);
      if (!exists) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
      throw new ModelloopError('VersionNotFound', `Model "${model}" has no version ${version}.`);
    }
    if (!blob) throw new Error(`The artifact of ${model} version ${version} is missing from models/${artifactPath(model, version)}.`);
    const started = Date.now();
    const session = await ort.InferenceSession.create(blob.bytes, sessionOptions(this.#options.intraOpThreads));
    await this.#warmUp(doc, session);
    this.#options.log.info(`Loaded ${model} version ${version} (${blob.bytes.byteLength} bytes) in ${Date.now() - started} ms, warm-up included.`);
    return { version: doc, session, bytes: blob.bytes.byteLength };
  }

  /**
   * One run on a row of zeros (empty strings for text) so the first real request does not pay for
   * ONNX Runtime's lazy allocations. A model that rejects the dummy row is still served.
   */
  async #warmUp(doc: VersionDocument, session: ort.InferenceSession): Promise<void> {
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of doc.inputs) {
        const dims = input.shape.map((d) => (d > 0 ? d : 1));
        const size = dims.reduce((a, b) => a * b, 1);
        feeds[input.name] = dummyTensor(input.type, size, dims);
      }
      if (doc.inputs.length > 0) await session.run(feeds);
    } catch (err) {
      this.#options.log.warn(`Warm-up of ${doc.model} version ${doc.version} failed (it is served anyway): ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The version document a selector names, without loading its session. */
  async describe(model: string, selector: VersionSelector = {}): Promise<VersionDocument> {
    const version = await this.resolve(model, selector);
    const entry = this.#entries.get(`${model}@${version}`);
    if (entry) {
      const loaded = await entry.loading.catch(() => undefined);
      if (loaded) return loaded.version;
    }
    const doc = await this.#options.registry.getVersion(model, version);
    if (doc) return doc;
    if (!(await this.#options.registry.getModel(model))) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
    throw new ModelloopError('VersionNotFound', `Model "${model}" has no version ${version}.`);
  }

  #evict(): void {
    const limit = this.#options.maxBytes ?? 512 * 1024 * 1024;
    for (const entry of this.#entries.values()) {
      if (this.#bytes <= limit || this.#entries.size <= 1) break;
      this.#entries.delete(entry.key);
      this.#bytes -= entry.bytes;
      entry.evicted = true;
      if (entry.inFlight === 0) void entry.loading.then((loaded) => loaded.session.release());
    }
  }
}

function dummyTensor(type: VersionDocument['inputs'][number]['type'], size: number, dims: number[]): ort.Tensor {
  switch (type) {
    case 'string':
      return new ort.Tensor('string', new Array<string>(size).fill(''), dims);
    case 'double':
      return new ort.Tensor('float64', new Float64Array(size), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(size), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(size), dims);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(size), dims);
    default:
      return new ort.Tensor('float32', new Float32Array(size), dims);
  }
}
