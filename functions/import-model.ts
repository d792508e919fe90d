import { app, type InvocationContext } from '@azure/functions';
import { loggerOf } from '../shared/platform/logger';
import { getServices } from '../shared/platform/services';

/**
 * Blob trigger on `models-incoming/{model}/{name}`: imports a data scientist's `.onnx` file as a
 * version (sidecars and reports beside it are ignored here). A refused file is settled with a
 * report beside it, not retried; storage failures throw so the host retries.
 */
export async function importModelHandler(blob: unknown, context: InvocationContext): Promise<void> {
  const model = String(context.triggerMetadata?.model ?? '');
  const name = String(context.triggerMetadata?.name ?? '');
  if (!name.toLowerCase().endsWith('.onnx')) return;
  const log = loggerOf(context);
  const services = await getServices();
  const { imports } = services.config;
  // Inspection, isolation and evaluation load on first use, not on every cold start.
  const { importModel } = await import('../shared/registry/import/import-model');
  const bytes = Buffer.isBuffer(blob) ? blob : Buffer.from(blob as Uint8Array);
  const outcome = await importModel(
    {
      ...services,
      log,
      holdoutFraction: services.config.holdoutFraction,
      inspection: { maxBytes: imports.maxBytes, maxTensorElements: 64 * 1024 * 1024, maxInputElements: 1024 * 1024 },
      isolation: { memoryBytes: imports.memoryBytes, timeoutMs: imports.timeoutMs },
    },
    { model, file: name, bytes },
  );
  if (outcome.kind === 'duplicate') log.info(`models-incoming/${model}/${name} was imported before (version ${outcome.version ?? '?'}).`);
  if (outcome.kind === 'ignored') log.info(`Ignored models-incoming/${model}/${name}: ${outcome.reason}.`);
}

app.storageBlob('import-model', {
  path: 'models-incoming/{model}/{name}',
  connection: 'AzureWebJobsStorage',
  // Flex Consumption runs blob triggers from Event Grid only (infra/scripts/subscribe-blob-events.sh);
  // the local host scans the container instead.
  source: 'EventGrid',
  handler: importModelHandler,
});
