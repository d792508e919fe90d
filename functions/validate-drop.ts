import { app, type InvocationContext } from '@azure/functions';
import { ModelloopError } from '../shared/platform/errors';
import { loggerOf } from '../shared/platform/logger';
import { getServices } from '../shared/platform/services';
import type { BlobFacts } from '../shared/data/ingest-drop';
import { MODEL_NAME } from '../shared/data/model-definition';

/**
 * Blob trigger on `datasets/{model}/{name}`: judges a data drop, or applies a `model.json`
 * definition. Bad data is settled with a report, not retried; storage failures throw so the
 * host retries and finally parks the blob in the poison queue.
 */
export async function validateDrop(blob: unknown, context: InvocationContext): Promise<void> {
  const model = String(context.triggerMetadata?.model ?? '');
  const name = String(context.triggerMetadata?.name ?? '');
  const log = loggerOf(context);
  if (!MODEL_NAME.test(model)) {
    log.warn(`Ignored datasets/${model}/${name}: "${model}" is not a valid model name (lowercase letters, digits, hyphens).`);
    return;
  }
  const bytes = Buffer.isBuffer(blob) ? blob : Buffer.from(blob as Uint8Array);
  const services = await getServices();
  // The data pipeline (parsers, contract checks) loads on first use, not on every cold start.
  const [{ defineModelAndJudgePending }, { ingestDrop }] = await Promise.all([import('../shared/data/define-and-judge'), import('../shared/data/ingest-drop')]);
  const deps = { ...services, log, maxDropBytes: services.config.maxDropBytes };
  if (name === 'model.json') {
    try {
      await defineModelAndJudgePending(deps, model, JSON.parse(bytes.toString('utf8')));
    } catch (err) {
      if (err instanceof SyntaxError || err instanceof ModelloopError) {
        log.error(`datasets/${model}/model.json was not applied: ${err.message}`);
        return;
      }
      throw err;
    }
    return;
  }
  const outcome = await ingestDrop(deps, { model, file: name, bytes, blob: blobFacts(context.triggerMetadata?.properties) });
  if (outcome.kind === 'ignored') log.info(`Ignored datasets/${model}/${name}: ${outcome.reason}.`);
}

/** `triggerMetadata.properties`, camel-cased by @azure/functions: enough to tell an append blob still being written. */
function blobFacts(properties: unknown): BlobFacts | undefined {
  if (typeof properties !== 'object' || properties === null) return undefined;
  const p = properties as Record<string, unknown>;
  const length = Number(p.length ?? p.contentLength);
  return {
    // The .NET host's BlobType enum may arrive as its name or its value (Block 0, Page 1, Append 2).
    ...(typeof p.blobType === 'string' ? { type: p.blobType } : p.blobType === 2 ? { type: 'AppendBlob' } : {}),
    ...(Number.isFinite(length) ? { length } : {}),
    ...(typeof p.isSealed === 'boolean' ? { sealed: p.isSealed } : {}),
  };
}

app.storageBlob('validate-drop', {
  path: 'datasets/{model}/{name}',
  connection: 'AzureWebJobsStorage',
  // Flex Consumption runs blob triggers from Event Grid only (infra/scripts/subscribe-blob-events.sh);
  // the local host scans the container instead.
  source: 'EventGrid',
  handler: validateDrop,
});
