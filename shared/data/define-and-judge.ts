import { ensureError } from '../platform/errors';
import { CONTAINERS } from '../platform/blob-store';
import { defineModel, describeModel, type ModelView } from '../registry/define-model';
import { ingestDrop, type IngestDeps } from './ingest-drop';

/**
 * Defines (or updates) a model, then judges the drops that were waiting for it. Used by
 * `PUT /models/{model}` and by a `datasets/{model}/model.json` drop alike.
 */
export async function defineModelAndJudgePending(deps: IngestDeps, model: string, body: unknown): Promise<{ created: boolean; view: ModelView; judged: number }> {
  const { created } = await defineModel(deps, model, body);
  let judged = 0;
  // Each pending drop is streamed from its blob and judged before the next is read, so a large one
  // costs its column data once, not its bytes times the number of drops waiting.
  for (const dataset of (await deps.registry.listDatasets(model)).filter((d) => d.status === 'pending')) {
    for (const file of dataset.files) {
      try {
        const blob = await deps.blobs.openRead(CONTAINERS.datasets, `${model}/${file}`);
        if (!blob) continue;
        await ingestDrop(deps, { model, file, chunks: blob.stream as AsyncIterable<Uint8Array>, blob: { length: blob.size } });
        judged++;
      } catch (err) {
        // The drop stays pending and is judged again on the next definition or redelivery.
        deps.log.error(`Pending drop datasets/${model}/${file} could not be judged: ${ensureError(err).message}`);
      }
      break;
    }
  }
  return { created, view: await describeModel(deps.registry, model), judged };
}
