import type { BlobStore } from '../platform/blob-store';
import { ModelloopError } from '../platform/errors';
import { recordAliasMove } from './durable-record';
import type { ModelDocument } from './documents';
import type { Registry } from './registry';

export interface AliasDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
}

export interface AliasMoveRequest {
  readonly model: string;
  readonly alias: string;
  readonly version: number;
  /** Who or what moves it: `system:first-version`, `user:<name>`. */
  readonly by: string;
  readonly reason: string;
  /** Move only if the alias is unset (the first version becomes production this way). */
  readonly onlyIfUnset?: boolean;
}

/**
 * Points an alias at a registered version: the move is recorded in blob storage (the durable
 * record) and then applied to the model document with an ETag check, retrying when another
 * writer changed the document in between. Returns the model document after the move, or the
 * current one when `onlyIfUnset` found the alias already set.
 */
export async function moveAlias(deps: AliasDeps, request: AliasMoveRequest): Promise<ModelDocument> {
  const { model, alias, version } = request;
  for (let attempt = 0; ; attempt++) {
    const doc = await deps.registry.getModel(model);
    if (!doc) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
    if (request.onlyIfUnset && doc.aliases[alias] !== undefined) return doc;
    if (!(await deps.registry.getVersion(model, version))) {
      throw new ModelloopError('VersionNotFound', `Model "${model}" has no registered version ${version}; an alias can only point at a registered version.`);
    }
    const from = doc.aliases[alias] ?? null;
    const next: ModelDocument = { ...doc, aliases: { ...doc.aliases, [alias]: version }, updatedAt: new Date().toISOString() };
    try {
      const updated = await deps.registry.replaceModel(next);
      await recordAliasMove(deps.blobs, model, { alias, from, to: version, at: next.updatedAt, by: request.by, reason: request.reason });
      return updated;
    } catch (err) {
      if (!(err instanceof ModelloopError && err.code === 'Conflict') || attempt >= 5) throw err;
    }
  }
}
