import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ensureError } from '../platform/errors';
import { datasetDocumentFromReport, dropReportSchema } from '../data/drop-report';
import { aliasMoveId, evaluationDocumentSchema, type ModelDocument } from './documents';
import { aliasRecordSchema, definitionRecordSchema } from './durable-record';
import { manifestSchema, versionDocumentFromManifest } from './manifest';
import type { Registry } from './registry';

export interface RebuildSummary {
  models: number;
  versions: number;
  datasets: number;
  aliasMoves: number;
  evaluations: number;
  /** Blobs that could not be read back, with why; they are skipped, not fatal. */
  skipped: string[];
}

/**
 * Rebuilds the registry from blob storage, the durable record: definitions, version manifests
 * (only versions whose artifact and manifest both exist), alias records with every move, and
 * drop reports, evaluations. Runs and leases are working state and are not rebuilt.
 * Idempotent: it upserts, so running it on a live registry changes nothing that is current.
 */
export async function rebuildRegistry(blobs: BlobStore, registry: Registry, log: (message: string) => void = () => {}): Promise<RebuildSummary> {
  const summary: RebuildSummary = { models: 0, versions: 0, datasets: 0, aliasMoves: 0, evaluations: 0, skipped: [] };
  const modelBlobs = await blobs.list(CONTAINERS.models);
  const names = new Set(modelBlobs.map((b) => b.name));
  const byModel = new Map<string, string[]>();
  for (const { name } of modelBlobs) {
    const model = name.split('/')[0]!;
    const list = byModel.get(model) ?? [];
    list.push(name);
    byModel.set(model, list);
  }

  const readJson = async (container: string, name: string): Promise<unknown> => {
    const blob = await blobs.readJson(container, name);
    return blob?.value;
  };

  for (const [model, files] of byModel) {
    try {
      const definition = definitionRecordSchema.parse(await readJson(CONTAINERS.models, `${model}/definition.json`));
      const registered: number[] = [];
      let latestVersion = 0;
      for (const file of files) {
        const match = /^[^/]+\/(\d+)\/manifest\.json$/.exec(file);
        const folder = /^[^/]+\/(\d+)\//.exec(file);
        if (folder) latestVersion = Math.max(latestVersion, Number(folder[1]));
        if (!match) continue;
        const version = Number(match[1]);
        if (!names.has(`${model}/${version}/model.onnx`)) {
          summary.skipped.push(`${file}: no model.onnx beside it`);
          continue;
        }
        const manifest = manifestSchema.parse(await readJson(CONTAINERS.models, file));
        await registry.upsertVersion(versionDocumentFromManifest(manifest));
        registered.push(version);
        summary.versions++;
      }
      const aliasBlob = await readJson(CONTAINERS.models, `${model}/aliases.json`);
      const aliases: Record<string, number> = {};
      if (aliasBlob !== undefined) {
        const record = aliasRecordSchema.parse(aliasBlob);
        for (const [alias, version] of Object.entries(record.aliases)) {
          if (registered.includes(version)) aliases[alias] = version;
        }
        for (const [i, move] of record.moves.entries()) {
          const { id, ...facts } = move;
          await registry.upsertAliasMove({ id: id ?? aliasMoveId(move.at, move.alias, `r${i}`), type: 'alias-move', model, ...facts });
          summary.aliasMoves++;
        }
      }
      const doc: ModelDocument = {
        id: 'model',
        type: 'model',
        model,
        definition: definition.definition,
        ...(definition.contract ? { contract: definition.contract } : {}),
        aliases,
        latestVersion,
        createdAt: definition.createdAt,
        updatedAt: definition.updatedAt,
      };
      await registry.upsertModel(doc);
      summary.models++;
      for (const file of files.filter((f) => /^[^/]+\/evaluations\/[^/]+\.json$/.test(f))) {
        try {
          await registry.upsertEvaluation(evaluationDocumentSchema.parse(await readJson(CONTAINERS.models, file)));
          summary.evaluations++;
        } catch (err) {
          summary.skipped.push(`models/${file}: ${ensureError(err).message}`);
        }
      }
    } catch (err) {
      summary.skipped.push(`models/${model}: ${ensureError(err).message}`);
    }
  }

  for (const report of await blobs.list(CONTAINERS.reports)) {
    try {
      const parsed = dropReportSchema.parse(await readJson(CONTAINERS.reports, report.name));
      await registry.upsertDataset(datasetDocumentFromReport(parsed));
      summary.datasets++;
    } catch (err) {
      summary.skipped.push(`reports/${report.name}: ${ensureError(err).message}`);
    }
  }
  log(
    `Registry rebuilt from blob storage: ${summary.models} models, ${summary.versions} versions, ${summary.aliasMoves} alias moves, ${summary.datasets} datasets, ${summary.evaluations} evaluations` +
      (summary.skipped.length ? `; skipped ${summary.skipped.length}: ${summary.skipped.join('; ')}` : ''),
  );
  return summary;
}
