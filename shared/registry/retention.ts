import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ModelloopError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import { artifactPath, manifestPath } from './manifest';
import type { Registry } from './registry';

export interface RetentionDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly log: Logger;
}

/**
 * Keeps the newest `keep` versions that no alias points at and deletes the older ones; a version
 * an alias points at is never deleted. The versions are first marked `retired` on the model
 * document (ETag), so an alias can never be moved onto one while it is being deleted; then the
 * version document goes (invisible from then on), then the manifest (so a rebuild cannot bring
 * it back), then the artifact. Returns the versions deleted.
 */
export async function applyRetention(deps: RetentionDeps, model: string, keep: number): Promise<number[]> {
  let doomed: number[] = [];
  for (let attempt = 0; ; attempt++) {
    const doc = await deps.registry.getModel(model);
    if (!doc) return [];
    const aliased = new Set(Object.values(doc.aliases));
    const versions = (await deps.registry.listVersions(model)).map((v) => v.version);
    const unaliased = versions.filter((v) => !aliased.has(v)).sort((a, b) => b - a);
    doomed = unaliased.slice(keep);
    // Versions marked earlier whose deletion did not finish are finished now.
    const unfinished = (doc.retired ?? []).filter((v) => versions.includes(v) && !aliased.has(v));
    const fresh = doomed.filter((v) => !(doc.retired ?? []).includes(v));
    doomed = [...new Set([...doomed, ...unfinished])];
    if (doomed.length === 0) return [];
    if (fresh.length === 0) break;
    try {
      await deps.registry.replaceModel({ ...doc, retired: [...(doc.retired ?? []), ...fresh].sort((a, b) => a - b) });
      break;
    } catch (err) {
      if (!(err instanceof ModelloopError && err.code === 'Conflict') || attempt >= 5) throw err;
    }
  }
  for (const version of doomed) {
    await deps.registry.deleteVersion(model, version);
    await deps.blobs.delete(CONTAINERS.models, manifestPath(model, version));
    await deps.blobs.delete(CONTAINERS.models, artifactPath(model, version));
  }
  deps.log.info(`Retention for "${model}": deleted version(s) ${doomed.join(', ')} (keeping the newest ${keep} without an alias).`);
  return doomed;
}
