import { createHash } from 'node:crypto';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ModelloopError, ensureError, type ModelloopErrorCode } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { RetrainQueue } from '../platform/retrain-queue';
import { datasetDocumentFromReport, type DropReport } from './drop-report';
import type { DatasetDocument, ModelDocument } from '../registry/documents';
import { writeDefinitionRecord } from '../registry/durable-record';
import { reportPath } from '../registry/manifest';
import type { Registry } from '../registry/registry';
import type { Telemetry } from '../platform/telemetry';
import { formatOf, readDrop, readDropStream, tooLarge } from './read-drop';
import type { DropTable } from './drop-table';
import { checkTable, inferContract, type CheckedTable, type DataContract } from './data-contract';

export interface IngestDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly retrainQueue: RetrainQueue;
  readonly log: Logger;
  readonly maxDropBytes: number;
  /** Where `modelloop.rows.validated` goes; every drop judged against a contract records its rows. */
  readonly telemetry?: Telemetry;
}

export interface DropInput {
  readonly model: string;
  /** The blob name under `datasets/{model}/`. */
  readonly file: string;
  /** The content, when the trigger delivered it whole. */
  readonly bytes?: Uint8Array;
  /**
   * The content as a stream of chunks (`BlobStore.openRead`, a file stream), when `bytes` is not
   * given: read once, hashed and parsed in the same pass, so memory is the column data.
   */
  readonly chunks?: AsyncIterable<Uint8Array>;
  readonly receivedAt?: Date;
  /** What the blob trigger says about the blob (`triggerMetadata.properties`), to tell a finished blob from one still being written. */
  readonly blob?: BlobFacts;
}

/** The blob's properties as the trigger saw them. */
export interface BlobFacts {
  /** `BlockBlob`, `AppendBlob` or `PageBlob`. */
  readonly type?: string;
  /** The blob's length when the trigger fired. */
  readonly length?: number;
  /** Append blobs only: sealed, so it can no longer grow. */
  readonly sealed?: boolean;
}

export type IngestOutcome =
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'duplicate'; readonly dataset: DatasetDocument }
  | { readonly kind: 'judged'; readonly dataset: DatasetDocument; readonly report: DropReport };

export function datasetIdOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Judges one data drop: identifies it by content hash, checks it against the model's data contract
 * (inferring the contract from the first accepted drop), writes its report, records the dataset and,
 * when accepted, asks for a retrain. Safe to run twice for the same blob: duplicates change nothing.
 */
export async function ingestDrop(deps: IngestDeps, input: DropInput): Promise<IngestOutcome> {
  const { model, file } = input;
  const format = formatOf(file);
  if (!format) return { kind: 'ignored', reason: `"${file}" is not a data file (.csv, .jsonl or .parquet)` };
  const content = await readContent(input, deps.maxDropBytes);
  if (content.bytes === 0) return { kind: 'ignored', reason: `"${file}" is empty; it is judged once it has content` };
  const growing = stillGrowing(input, content.bytes);
  if (growing) return { kind: 'ignored', reason: growing };

  const { datasetId } = content;
  const existing = await deps.registry.getDataset(model, datasetId);
  if (existing && existing.status !== 'pending') {
    const dataset = existing.files.includes(file) ? existing : await deps.registry.upsertDataset({ ...existing, files: [...existing.files, file] });
    deps.log.info(`Drop datasets/${model}/${file} has the same content as dataset ${datasetId.slice(0, 12)} (${existing.files[0]}); nothing to do.`);
    return { kind: 'duplicate', dataset };
  }

  const receivedAt = (existing ? new Date(existing.receivedAt) : input.receivedAt ?? new Date()).toISOString();
  const files = existing ? (existing.files.includes(file) ? existing.files : [...existing.files, file]) : [file];
  const base: ReportBase = { format: 'modelloop.report/1', model, datasetId, files, fileFormat: format, bytes: content.bytes, receivedAt };

  const modelDoc = await deps.registry.getModel(model);
  if (!modelDoc) {
    const report = emptyReport(base, 'pending', 'ModelNotFound', `Model "${model}" is not defined yet; the drop is kept and judged once it is (PUT /models/${model}).`);
    return record(deps, report);
  }
  let table;
  try {
    table = content.table();
  } catch (err) {
    if (!(err instanceof ModelloopError)) throw err;
    return record(deps, emptyReport(base, 'rejected', err.code, err.message));
  }

  const contract: DataContract = modelDoc.contract ?? inferContract(table, modelDoc.definition, datasetId);
  const checked = checkTable(table, contract);
  const verdict = judge(checked, contract, modelDoc.definition.maxRejectedFraction ?? 0);
  const report: DropReport = {
    ...base,
    status: verdict.accepted ? 'accepted' : 'rejected',
    ...(verdict.accepted ? {} : { code: 'SchemaViolation' }),
    message: verdict.message,
    checkedAt: new Date().toISOString(),
    rowsRead: checked.rowsRead,
    acceptedRows: verdict.accepted ? checked.acceptedRows : 0,
    rejectedRows: verdict.accepted ? checked.rejectedRows : checked.rowsRead,
    missingColumns: checked.missingColumns,
    extraColumns: checked.extraColumns,
    problems: checked.problems,
    problemTotals: checked.problemTotals,
    columns: checked.stats,
    contractSource: contract.source,
  };

  if (verdict.accepted && !modelDoc.contract) await holdContract(deps, modelDoc, contract);
  return record(deps, report, verdict.accepted ? () => requestRetrain(deps, model, datasetId) : undefined);
}

/** A drop's id and size, and its table on demand (throwing the `ModelloopError` that says why it cannot be read). */
interface Content {
  readonly datasetId: string;
  readonly bytes: number;
  table(): DropTable;
}

/**
 * Whole bytes are hashed first and parsed only if the drop is new; a stream is hashed and parsed in
 * its one pass. Either way a drop over `maxBytes` is never parsed.
 */
async function readContent({ file, bytes, chunks, blob }: DropInput, maxBytes: number): Promise<Content> {
  if (bytes) {
    return {
      datasetId: datasetIdOf(bytes),
      bytes: bytes.byteLength,
      table: () => {
        if (bytes.byteLength > maxBytes) throw tooLarge(bytes.byteLength, maxBytes);
        return readDrop(bytes, file);
      },
    };
  }
  if (!chunks) throw new TypeError('ingestDrop needs the drop as bytes or chunks');
  const streamed = await readDropStream(chunks, file, { maxBytes, ...(blob?.length ? { sizeHint: blob.length } : {}) });
  return {
    datasetId: streamed.datasetId,
    bytes: streamed.bytes,
    table: () => {
      if (streamed.error) throw streamed.error;
      return streamed.table!;
    },
  };
}

/**
 * A block blob is visible only once committed, so its content is final. An append blob can grow
 * after the trigger fires: it is judged once sealed (sealing changes its ETag, which fires the
 * trigger again). Content shorter or longer than the length the trigger saw changed while read;
 * that change fires the trigger again too.
 */
function stillGrowing({ file, blob }: DropInput, bytes: number): string | undefined {
  if (!blob) return undefined;
  if (blob.length !== undefined && blob.length !== bytes) {
    return `"${file}" changed while it was read (${blob.length} bytes announced, ${bytes} read); it is judged when the next change settles`;
  }
  if (/^append/i.test(blob.type ?? '') && blob.sealed !== true) {
    return `"${file}" is an append blob that can still grow; it is judged once sealed (or write drops as block blobs)`;
  }
  return undefined;
}

function judge(checked: CheckedTable, contract: DataContract, maxRejectedFraction: number): { accepted: boolean; message: string } {
  if (checked.missingColumns.length > 0) {
    const which = checked.missingColumns.map((c) => `"${c}"`).join(', ');
    const role = checked.missingColumns.includes(contract.target.name) ? ` (${contract.target.name} is the target)` : '';
    return { accepted: false, message: `Required column${checked.missingColumns.length > 1 ? 's' : ''} ${which} missing${role}; the drop is rejected.` };
  }
  if (checked.rowsRead === 0) return { accepted: false, message: 'The drop has a header but no data rows.' };
  const fraction = checked.rejectedRows / checked.rowsRead;
  const first = checked.problems[0];
  const example = first ? ` First: line ${first.row}, column "${first.column}": expected ${first.expected}, got ${first.received}.` : '';
  if (checked.acceptedRows === 0 || fraction > maxRejectedFraction) {
    return {
      accepted: false,
      message: `${checked.rejectedRows} of ${checked.rowsRead} rows break the data contract (allowed: ${Math.round(maxRejectedFraction * 100)}%); the drop is rejected.${example}`,
    };
  }
  const extra = checked.extraColumns.length ? ` Extra columns ignored: ${checked.extraColumns.join(', ')}.` : '';
  const dropped = checked.rejectedRows ? ` ${checked.rejectedRows} bad rows left out.${example}` : '';
  return { accepted: true, message: `Accepted ${checked.acceptedRows} of ${checked.rowsRead} rows.${dropped}${extra}` };
}

type ReportBase = Pick<DropReport, 'format' | 'model' | 'datasetId' | 'files' | 'fileFormat' | 'bytes' | 'receivedAt'>;

function emptyReport(base: ReportBase, status: DropReport['status'], code: ModelloopErrorCode, message: string): DropReport {
  return {
    ...base,
    status,
    code,
    message,
    checkedAt: new Date().toISOString(),
    rowsRead: 0,
    acceptedRows: 0,
    rejectedRows: 0,
    missingColumns: [],
    extraColumns: [],
    problems: [],
    problemTotals: {},
    columns: {},
  };
}

/**
 * The report blob first (the durable record), then the retrain request, then the registry's dataset
 * document, which marks the drop as done: a crash before it means a redelivery judges the drop again
 * and sends the request again (its key keeps it from training twice); a drop already recorded sends nothing.
 */
async function record(deps: IngestDeps, report: DropReport, afterReport?: () => Promise<void>): Promise<IngestOutcome> {
  await deps.blobs.writeJson(CONTAINERS.reports, reportPath(report.model, report.datasetId), report);
  await afterReport?.();
  const dataset = await deps.registry.upsertDataset(datasetDocumentFromReport(report));
  if (report.status !== 'pending') deps.telemetry?.metric('modelloop.rows.validated', report.rowsRead, { model: report.model, status: report.status });
  const log = report.status === 'accepted' ? deps.log.info : deps.log.warn;
  log(`Drop ${report.files.at(-1)} for model "${report.model}" ${report.status}: ${report.message} Report: reports/${reportPath(report.model, report.datasetId)}`);
  return { kind: 'judged', dataset, report };
}

/** Stores an inferred contract on the model; if another drop got there first, start again with its contract. */
async function holdContract(deps: IngestDeps, modelDoc: ModelDocument, contract: DataContract): Promise<void> {
  const updated = await deps.registry.replaceModel({ ...modelDoc, contract, updatedAt: new Date().toISOString() });
  try {
    await writeDefinitionRecord(deps.blobs, updated);
  } catch (err) {
    deps.log.error(`Could not write the definition record of "${modelDoc.model}": ${ensureError(err).message}`);
    throw err;
  }
}

async function requestRetrain(deps: IngestDeps, model: string, datasetId: string): Promise<void> {
  await deps.retrainQueue.send({
    model,
    reason: 'data',
    datasets: [datasetId],
    requestedAt: new Date().toISOString(),
    key: `data:${model}:${datasetId}`,
  });
}
