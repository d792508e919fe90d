import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ModelloopError } from '../platform/errors';
import { reportPath } from '../registry/manifest';
import type { Registry } from '../registry/registry';
import { datasetIdOf } from './ingest-drop';
import { formatOf } from './read-drop';
import { assertModelName } from './model-definition';

export interface UploadResult {
  readonly model: string;
  readonly file: string;
  readonly blob: string;
  readonly datasetId: string;
  /** Where the verdict will be, once the drop is judged. */
  readonly report: string;
  /** `received` for new content; the existing verdict when the same content arrived before. */
  readonly status: 'received' | 'accepted' | 'rejected' | 'pending';
}

/**
 * Uploads a data drop to `datasets/{model}/{file}`, the same path a blob drop uses, so the blob
 * trigger judges it as it judges any other. `model.json` (a definition) is accepted too.
 */
export async function uploadDrop(
  deps: { blobs: BlobStore; registry: Registry; maxDropBytes: number },
  model: string,
  file: string,
  bytes: Uint8Array,
): Promise<UploadResult> {
  assertModelName(model);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(file) || file.includes('..')) {
    throw new ModelloopError('InvalidInput', `File name "${file}" is not valid: use letters, digits, ".", "_" and "-", with an extension such as .csv.`, [
      { path: ['file'], message: 'invalid file name', received: file },
    ]);
  }
  if (file !== 'model.json' && !formatOf(file)) {
    throw new ModelloopError('UnsupportedFormat', `"${file}" is not a data file: name it .csv, .jsonl or .parquet (or model.json for a definition).`);
  }
  if (bytes.byteLength === 0) throw new ModelloopError('InvalidInput', `The upload of "${file}" is empty.`);
  if (bytes.byteLength > deps.maxDropBytes) {
    throw new ModelloopError('PayloadTooLarge', `"${file}" is ${bytes.byteLength} bytes; the limit is ${deps.maxDropBytes} (MAX_DROP_BYTES).`);
  }
  const datasetId = datasetIdOf(bytes);
  const known = file === 'model.json' ? undefined : await deps.registry.getDataset(model, datasetId);
  const contentType = file.endsWith('.csv') ? 'text/csv' : file.endsWith('.json') || file.endsWith('.jsonl') ? 'application/json' : 'application/octet-stream';
  await deps.blobs.write(CONTAINERS.datasets, `${model}/${file}`, bytes, { contentType });
  return {
    model,
    file,
    blob: `${CONTAINERS.datasets}/${model}/${file}`,
    datasetId,
    report: `${CONTAINERS.reports}/${reportPath(model, datasetId)}`,
    status: known?.status ?? 'received',
  };
}
