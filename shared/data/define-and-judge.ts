import { ensureError } from '../platform/errors';
import { defineModel, describeModel, pendingDrops, type ModelView } from '../registry/define-model';
import { ingestDrop, type IngestDeps } from './ingest-drop';

/**
 * Defines (or updates) a model, then judges the drops that were waiting for it. Used by
 * `PUT /models/{model}` and by a `datasets/{model}/model.json` drop alike.
 */
export async function defineModelAndJudgePending(deps: IngestDeps, model: string, body: unknown): Promise<{ created: boolean; view: ModelView; judged: number }> {
  const { created } = await defineModel(deps, model, body);
  let judged = 0;
  for (const drop of await pendingDrops(deps, model)) {
    try {
      await ingestDrop(deps, { model, file: drop.file, bytes: drop.bytes });
      judged++;
    } catch (err) {
      // The drop stays pending and is judged again on the next definition or redelivery.
      deps.log.error(`Pending drop datasets/${model}/${drop.file} could not be judged: ${ensureError(err).message}`);
    }
  }
  return { created, view: await describeModel(deps.registry, model), judged };
}
