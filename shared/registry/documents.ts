import { z } from 'zod';
import { modelDefinitionSchema } from '../data/model-definition';

/**
 * Registry documents (Cosmos DB `modelloop`/`registry`, partition key `/model`), validated with
 * zod on every read and write. Cosmos adds `_etag` and friends; they pass through.
 */

const featureSpec = z.object({
  type: z.enum(['number', 'integer', 'boolean', 'category', 'string']),
  nullable: z.boolean().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  values: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
});

export const dataContractSchema = z.object({
  target: z.object({
    name: z.string(),
    type: z.enum(['label', 'number']),
    labelType: z.enum(['integer', 'string']).optional(),
  }),
  features: z.record(z.string(), featureSpec),
  excluded: z.record(z.string(), z.string()),
  source: z.string(),
});

const base = {
  model: z.string(),
  _etag: z.string().optional(),
};

export const modelDocumentSchema = z
  .object({
    ...base,
    id: z.literal('model'),
    type: z.literal('model'),
    definition: modelDefinitionSchema,
    contract: dataContractSchema.optional(),
    /** alias → version; `production` is served when a request names none. */
    aliases: z.record(z.string(), z.number().int().positive()),
    /** Highest version ever registered; versions are never reused. */
    latestVersion: z.number().int().min(0),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .loose();
export type ModelDocument = z.infer<typeof modelDocumentSchema>;

export const signatureFieldSchema = z.object({
  name: z.string(),
  /** ONNX element type of the graph input or output. */
  type: z.enum(['float', 'double', 'int64', 'int32', 'bool', 'string']),
  shape: z.array(z.number().int()),
  /** The data contract type of a feature input. */
  featureType: z.enum(['number', 'integer', 'boolean', 'category', 'string']).optional(),
  nullable: z.boolean().optional(),
});
export type SignatureField = z.infer<typeof signatureFieldSchema>;

export const versionDocumentSchema = z
  .object({
    ...base,
    id: z.string(),
    type: z.literal('version'),
    version: z.number().int().positive(),
    task: z.enum(['classification', 'regression']),
    source: z.enum(['trained', 'imported']),
    trainer: z.string(),
    artifact: z.string(),
    manifest: z.string(),
    sha256: z.string(),
    inputs: z.array(signatureFieldSchema),
    outputs: z.array(signatureFieldSchema),
    labels: z.array(z.union([z.string(), z.number()])).optional(),
    /** Fields a scoring request may carry that the model does not use (ids, free text, the target). */
    ignoredInputs: z.array(z.string()).optional(),
    metrics: z.record(z.string(), z.number()),
    primaryMetric: z.string(),
    datasets: z.array(z.string()),
    trainingRows: z.number().int().min(0),
    runKey: z.string().optional(),
    createdAt: z.string(),
  })
  .loose();
export type VersionDocument = z.infer<typeof versionDocumentSchema>;

export const datasetDocumentSchema = z
  .object({
    ...base,
    id: z.string(),
    type: z.literal('dataset'),
    /** The content hash (sha256, hex) that identifies the drop. */
    datasetId: z.string(),
    /** Every blob name this content arrived under, first first. */
    files: z.array(z.string()).min(1),
    status: z.enum(['accepted', 'rejected', 'pending']),
    format: z.enum(['csv', 'jsonl', 'parquet']),
    bytes: z.number().int().min(0),
    rowsRead: z.number().int().min(0),
    acceptedRows: z.number().int().min(0),
    rejectedRows: z.number().int().min(0),
    report: z.string(),
    message: z.string(),
    /** For drops not accepted: the error code of why (see the drop report). */
    code: z.string().optional(),
    receivedAt: z.string(),
  })
  .loose();
export type DatasetDocument = z.infer<typeof datasetDocumentSchema>;

export const runDocumentSchema = z
  .object({
    ...base,
    id: z.string(),
    type: z.literal('run'),
    key: z.string(),
    reason: z.string(),
    status: z.enum(['running', 'succeeded', 'failed', 'skipped']),
    version: z.number().int().positive().optional(),
    message: z.string().optional(),
    datasets: z.array(z.string()),
    startedAt: z.string(),
    finishedAt: z.string().optional(),
    progress: z.string().optional(),
  })
  .loose();
export type RunDocument = z.infer<typeof runDocumentSchema>;

export function versionId(version: number): string {
  return `version-${version}`;
}

export function datasetDocumentId(datasetId: string): string {
  return `dataset-${datasetId}`;
}

/** A document as the API shows it: without Cosmos system fields (`_etag`, `_ts`, …) and storage keys. */
export function publicView<T extends { id: string; type: string }>(doc: T): Omit<T, 'id' | 'type' | '_etag'> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key !== 'id' && key !== 'type' && !key.startsWith('_')) out[key] = value;
  }
  return out as Omit<T, 'id' | 'type' | '_etag'>;
}
