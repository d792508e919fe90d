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
    /** Versions removed by retention: an alias may never point at one again. */
    retired: z.array(z.number().int().positive()).optional(),
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
    /** For one matrix input `[N, k]`: the data contract columns, in order, that make up its k columns. */
    featureNames: z.array(z.string()).optional(),
    /** False when the inputs are not named columns: the version serves through V2 only. */
    servesPredict: z.boolean().optional(),
    /** Imported versions: the file it came from and the data scientist's notes. */
    importedFrom: z.string().optional(),
    notes: z.string().optional(),
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
    /** From the drop report: columns the contract needs that the drop lacks, and columns it ignored. */
    missingColumns: z.array(z.string()).optional(),
    extraColumns: z.array(z.string()).optional(),
    /** From the drop report: the first 100 problems and the totals per column and code. */
    problems: z.array(z.object({ row: z.number().int(), column: z.string(), code: z.string(), expected: z.string(), received: z.string() })).optional(),
    problemTotals: z.record(z.string(), z.record(z.string(), z.number())).optional(),
    /** From the drop report: per-column statistics of the accepted rows (the drift baseline). */
    columns: z.record(z.string(), z.unknown()).optional(),
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
    /** `folded`: it arrived while another run held the model's lease and was folded into a follow-up run. */
    status: z.enum(['running', 'succeeded', 'failed', 'skipped', 'folded']),
    version: z.number().int().positive().optional(),
    /** For a follow-up run: the keys of the folded requests it covers. */
    covers: z.array(z.string()).optional(),
    /** How the promotion policy judged the version this run registered. */
    promotion: z
      .object({
        decision: z.enum(['production', 'challenger', 'none']),
        by: z.string(),
        reason: z.string(),
        metric: z.string().optional(),
        candidate: z.number().optional(),
        production: z.number().optional(),
        rows: z.number().int().optional(),
      })
      .optional(),
    message: z.string().optional(),
    datasets: z.array(z.string()),
    startedAt: z.string(),
    finishedAt: z.string().optional(),
    progress: z.string().optional(),
  })
  .loose();
export type RunDocument = z.infer<typeof runDocumentSchema>;

/** One feature's (or the predictions') drift and data-quality figures over an evaluation window. */
const driftFiguresSchema = z.object({
  rows: z.number().int().min(0),
  measure: z.enum(['psi', 'jensen-shannon']),
  value: z.number().optional(),
  drifted: z.boolean(),
  nullRate: z.number(),
  baselineNullRate: z.number(),
  outOfRangeRate: z.number().optional(),
  range: z.object({ min: z.number().nullable(), max: z.number().nullable(), from: z.enum(['contract', 'training']) }).optional(),
  unseenRate: z.number().optional(),
  unseenExamples: z.array(z.string()).optional(),
});

/** How one version (production, or the challenger beside it) fared in an evaluation window. */
export const versionEvaluationSchema = z.object({
  version: z.number().int().positive(),
  alias: z.string(),
  /** Metrics on labelled drops of the window that the version was not trained on, against its training-time metrics. */
  quality: z.object({
    status: z.enum(['measured', 'no-new-data', 'too-few-rows', 'failed']),
    message: z.string(),
    rows: z.number().int().min(0),
    datasets: z.array(z.string()),
    primaryMetric: z.string(),
    metrics: z.record(z.string(), z.number()).optional(),
    trainingMetrics: z.record(z.string(), z.number()),
    /** Relative worsening of the primary metric against training (0.1 = 10% worse); negative when better. */
    worsening: z.number().optional(),
    decayed: z.boolean(),
  }),
  /** Drift of the sampled inference inputs and predictions against the training baseline. */
  drift: z.object({
    status: z.enum(['measured', 'too-few-rows', 'no-baseline']),
    message: z.string(),
    rows: z.number().int().min(0),
    features: z.record(z.string(), driftFiguresSchema),
    prediction: driftFiguresSchema.optional(),
    drifted: z.array(z.string()),
  }),
});
export type VersionEvaluation = z.infer<typeof versionEvaluationSchema>;

/**
 * One evaluation of a model over a window of time (`id: evaluation-{windowStart}`, so two
 * evaluations of the same window cannot both be recorded): production and the challenger.
 */
export const evaluationDocumentSchema = z
  .object({
    ...base,
    id: z.string(),
    type: z.literal('evaluation'),
    windowStart: z.string(),
    windowEnd: z.string(),
    evaluatedAt: z.string(),
    trigger: z.enum(['schedule', 'manual']),
    /** `alert` when drift or decay tripped a threshold; `warning` for data-quality findings alone. */
    status: z.enum(['healthy', 'alert', 'warning', 'insufficient-data']),
    thresholds: z.object({ drift: z.number(), decay: z.number(), dataQuality: z.number(), minRows: z.number().int() }),
    production: versionEvaluationSchema,
    challenger: versionEvaluationSchema.optional(),
    /** What tripped, in words a person reads: one line per feature or metric. */
    findings: z.array(z.string()),
    /** The retrain the evaluation asked for, if any. */
    retrain: z.object({ reason: z.enum(['drift', 'decay']), key: z.string() }).optional(),
  })
  .loose();
export type EvaluationDocument = z.infer<typeof evaluationDocumentSchema>;

export function evaluationId(windowStart: string): string {
  return `evaluation-${windowStart}`;
}

/** What an alias move records, in the registry and in the blob record alike. */
export const aliasMoveFields = {
  alias: z.string(),
  /** null: the alias was unset before (or is removed by this move). */
  from: z.number().int().positive().nullable(),
  to: z.number().int().positive().nullable(),
  at: z.string(),
  /** `user:<name>`, `policy:auto`, `system:first-version`, … */
  by: z.string(),
  reason: z.string(),
};

/** One alias move: who or what moved it, when, from which version to which, and why. */
export const aliasMoveDocumentSchema = z
  .object({
    ...base,
    id: z.string(),
    type: z.literal('alias-move'),
    ...aliasMoveFields,
  })
  .loose();
export type AliasMoveDocument = z.infer<typeof aliasMoveDocumentSchema>;

/**
 * The model's training lease (`id: lease`): one training at a time per model. It expires when its
 * holder stops renewing it; requests that arrive meanwhile are noted in `followUp`.
 */
export const leaseDocumentSchema = z
  .object({
    ...base,
    id: z.literal('lease'),
    type: z.literal('lease'),
    /** The run id holding the lease; empty when released. */
    holder: z.string(),
    /** A random token per holding invocation, so a redelivered message is told apart from its original. */
    token: z.string(),
    expiresAt: z.string(),
    /** Keys of requests folded while the lease was held; the holder runs once more for them. */
    followUp: z.array(z.object({ key: z.string(), reason: z.string() })),
  })
  .loose();
export type LeaseDocument = z.infer<typeof leaseDocumentSchema>;

export function aliasMoveId(at: string, alias: string, nonce: string): string {
  return `alias-move-${at}-${alias}-${nonce}`;
}

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
