import { publicView, type AliasMoveDocument, type DatasetDocument, type RunDocument, type VersionDocument } from './documents';
import type { Registry } from './registry';
import { runIdOf } from './run-id';

/** Where a version came from: its run, the drops it was trained on with their reports, and every alias move that touched it. */
export interface VersionLineage {
  readonly source: VersionDocument['source'];
  readonly run?: Omit<RunDocument, 'id' | 'type' | '_etag'>;
  readonly importedFrom?: string;
  readonly datasets: { readonly datasetId: string; readonly files: string[]; readonly status: DatasetDocument['status'] | 'missing'; readonly report?: string; readonly acceptedRows?: number }[];
  readonly aliasMoves: Omit<AliasMoveDocument, 'id' | 'type' | '_etag'>[];
}

export async function versionLineage(registry: Registry, version: VersionDocument): Promise<VersionLineage> {
  const { model } = version;
  const run = version.runKey ? await registry.getRun(model, runIdOf(version.runKey)) : undefined;
  const datasets = await Promise.all(
    version.datasets.map(async (datasetId) => {
      const d = await registry.getDataset(model, datasetId);
      return d
        ? { datasetId, files: d.files, status: d.status, report: d.report, acceptedRows: d.acceptedRows }
        : { datasetId, files: [], status: 'missing' as const };
    }),
  );
  const moves = (await registry.listAliasMoves(model)).filter((m) => m.to === version.version || m.from === version.version);
  return {
    source: version.source,
    ...(run ? { run: publicView(run) } : {}),
    ...(version.importedFrom ? { importedFrom: version.importedFrom } : {}),
    datasets,
    aliasMoves: moves.map(publicView),
  };
}
