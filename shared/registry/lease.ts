import { randomUUID } from 'node:crypto';
import { ModelloopError } from '../platform/errors';
import type { LeaseDocument } from './documents';
import type { Registry } from './registry';

/** A request folded into a follow-up run while the lease was held. */
export interface FoldedRequest {
  readonly key: string;
  readonly reason: string;
}

export type LeaseAttempt =
  | { readonly kind: 'acquired'; readonly lease: TrainingLease }
  | { readonly kind: 'held'; readonly holder: string };

/**
 * The model's training lease: one training at a time per model. Every write is an ETag
 * compare-and-swap on the one `lease` document in the model's partition. The holder renews it
 * while it works; if the holder dies, the lease expires after `ttlMs` and the next request takes
 * it over, together with the requests that were folded while it was held.
 */
export async function acquireLease(registry: Registry, model: string, runId: string, ttlMs: number): Promise<LeaseAttempt> {
  const token = randomUUID();
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await registry.getLease(model);
    const expiresAt = new Date(Date.now() + ttlMs).toISOString();
    try {
      if (!current) {
        const doc = await registry.createLease({ id: 'lease', type: 'lease', model, holder: runId, token, expiresAt, followUp: [] });
        return { kind: 'acquired', lease: new TrainingLease(registry, doc, ttlMs) };
      }
      if (isLive(current)) return { kind: 'held', holder: current.holder };
      // Free or expired: take it, keeping requests folded under a holder that died.
      const doc = await registry.replaceLease({ ...current, holder: runId, token, expiresAt });
      return { kind: 'acquired', lease: new TrainingLease(registry, doc, ttlMs) };
    } catch (err) {
      if (!(err instanceof ModelloopError && err.code === 'Conflict')) throw err;
    }
  }
  throw new ModelloopError('Conflict', `The training lease of "${model}" is contended; the request will be retried.`);
}

/**
 * Notes a request on a live lease so its holder runs once more for it. Returns false when the
 * lease is no longer held (then the caller should try to take it instead).
 */
export async function foldIntoLease(registry: Registry, model: string, request: FoldedRequest): Promise<boolean> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await registry.getLease(model);
    if (!current || !isLive(current)) return false;
    if (current.followUp.some((f) => f.key === request.key)) return true;
    try {
      await registry.replaceLease({ ...current, followUp: [...current.followUp, request] });
      return true;
    } catch (err) {
      if (!(err instanceof ModelloopError && err.code === 'Conflict')) throw err;
    }
  }
  throw new ModelloopError('Conflict', `The training lease of "${model}" is contended; the request will be retried.`);
}

function isLive(lease: LeaseDocument): boolean {
  return lease.holder !== '' && Date.parse(lease.expiresAt) > Date.now();
}

export class TrainingLease {
  readonly #registry: Registry;
  readonly #ttlMs: number;
  readonly #model: string;
  readonly #token: string;
  #heartbeat: NodeJS.Timeout | undefined;
  #lost = false;

  constructor(registry: Registry, doc: LeaseDocument, ttlMs: number) {
    this.#registry = registry;
    this.#ttlMs = ttlMs;
    this.#model = doc.model;
    this.#token = doc.token;
    // Renew well before expiry; the timer must not keep a finished process alive.
    this.#heartbeat = setInterval(() => void this.renew().catch(() => undefined), Math.max(250, ttlMs / 3));
    this.#heartbeat.unref();
  }

  /** True once another run took the lease over (this holder was presumed dead). */
  get lost(): boolean {
    return this.#lost;
  }

  /** Extends the lease; false when it is no longer ours. */
  async renew(): Promise<boolean> {
    const doc = await this.#mutate((current) => ({ ...current, expiresAt: new Date(Date.now() + this.#ttlMs).toISOString() }));
    return doc !== undefined;
  }

  /** The requests folded so far (they stay on the lease until `settle` removes them). */
  async pending(): Promise<FoldedRequest[]> {
    const current = await this.#registry.getLease(this.#model);
    return current && current.token === this.#token ? current.followUp : [];
  }

  /** Removes folded requests once a run covered them. */
  async settle(keys: readonly string[]): Promise<void> {
    await this.#mutate((current) => ({ ...current, followUp: current.followUp.filter((f) => !keys.includes(f.key)) }));
  }

  /**
   * Releases the lease unless requests were folded meanwhile; returns them (still holding the
   * lease) so the holder runs for them first. A fold cannot slip in between: both are ETag writes.
   */
  async releaseOrPending(): Promise<FoldedRequest[]> {
    let pending: FoldedRequest[] = [];
    const done = await this.#mutate((current) => {
      pending = current.followUp;
      return pending.length ? { ...current, expiresAt: new Date(Date.now() + this.#ttlMs).toISOString() } : { ...current, holder: '', expiresAt: new Date(0).toISOString() };
    });
    if (!done || pending.length === 0) this.stop();
    return done ? pending : [];
  }

  /** Gives the lease up without looking at folded requests (after a failure that will be retried). */
  async release(): Promise<void> {
    this.stop();
    await this.#mutate((current) => ({ ...current, holder: '', expiresAt: new Date(0).toISOString() }));
  }

  stop(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  async #mutate(change: (current: LeaseDocument) => LeaseDocument): Promise<LeaseDocument | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.#registry.getLease(this.#model);
      if (!current || current.token !== this.#token) {
        this.#lost = true;
        return undefined;
      }
      try {
        return await this.#registry.replaceLease(change(current));
      } catch (err) {
        if (!(err instanceof ModelloopError && err.code === 'Conflict')) throw err;
      }
    }
    throw new ModelloopError('Conflict', `The training lease of "${this.#model}" is contended.`);
  }
}
