import { z } from 'zod';
import { driftBaselineSchema } from '../monitoring/drift';
import { dataContractSchema, signatureFieldSchema, type VersionDocument } from './documents';

/**
 * `models/{model}/{version}/manifest.json`: everything known about a version, written beside its
 * `model.onnx` before the version is registered. The registry's version document is a summary of
 * it, so the registry can be rebuilt from blob storage alone.
 */
export const manifestSchema = z
  .object({
    format: z.literal('modelloop.manifest/1'),
    model: z.string(),
    version: z.number().int().positive(),
    createdAt: z.string(),
    task: z.enum(['classification', 'regression']),
    source: z.enum(['trained', 'imported']),
    trainer: z.string(),
    sha256: z.string(),
    inputs: z.array(signatureFieldSchema),
    outputs: z.array(signatureFieldSchema),
    labels: z.array(z.union([z.string(), z.number()])).optional(),
    ignoredInputs: z.array(z.string()).optional(),
    primaryMetric: z.string(),
    /** Metrics of the chosen candidate on the evaluation split. */
    metrics: z.record(z.string(), z.number()),
    candidates: z.array(
      z.object({ trainer: z.string(), params: z.record(z.string(), z.unknown()), metrics: z.record(z.string(), z.number()) }),
    ),
    seed: z.number().int(),
    datasets: z.array(z.string()),
    trainingRows: z.number().int().min(0),
    evaluationRows: z.number().int().min(0),
    /** Per-feature statistics of the training rows: the drift baseline. */
    featureStats: z.record(z.string(), z.unknown()),
    /** Binned training distributions of the inputs and predictions (absent in versions imported or trained before it existed). */
    driftBaseline: driftBaselineSchema.optional(),
    contract: dataContractSchema.optional(),
    runKey: z.string().optional(),
    featureNames: z.array(z.string()).optional(),
    servesPredict: z.boolean().optional(),
    importedFrom: z.string().optional(),
    notes: z.string().optional(),
  })
  .loose();

export type Manifest = z.infer<typeof manifestSchema>;

export function modelBlobPrefix(model: string): string {
  return `${model}/`;
}
export function artifactPath(model: string, version: number): string {
  return `${model}/${version}/model.onnx`;
}
export function manifestPath(model: string, version: number): string {
  return `${model}/${version}/manifest.json`;
}
export function definitionPath(model: string): string {
  return `${model}/definition.json`;
}
export function aliasesPath(model: string): string {
  return `${model}/aliases.json`;
}
export function reportPath(model: string, datasetId: string): string {
  return `${model}/${datasetId}.json`;
}

export function versionDocumentFromManifest(manifest: Manifest): VersionDocument {
  return {
    id: `version-${manifest.version}`,
    type: 'version',
    model: manifest.model,
    version: manifest.version,
    task: manifest.task,
    source: manifest.source,
    trainer: manifest.trainer,
    artifact: `models/${artifactPath(manifest.model, manifest.version)}`,
    manifest: `models/${manifestPath(manifest.model, manifest.version)}`,
    sha256: manifest.sha256,
    inputs: manifest.inputs,
    outputs: manifest.outputs,
    ...(manifest.labels ? { labels: manifest.labels } : {}),
    ...(manifest.ignoredInputs ? { ignoredInputs: manifest.ignoredInputs } : {}),
    metrics: manifest.metrics,
    primaryMetric: manifest.primaryMetric,
    datasets: manifest.datasets,
    trainingRows: manifest.trainingRows,
    ...(manifest.runKey ? { runKey: manifest.runKey } : {}),
    ...(manifest.featureNames ? { featureNames: manifest.featureNames } : {}),
    ...(manifest.servesPredict !== undefined ? { servesPredict: manifest.servesPredict } : {}),
    ...(manifest.importedFrom ? { importedFrom: manifest.importedFrom } : {}),
    ...(manifest.notes ? { notes: manifest.notes } : {}),
    createdAt: manifest.createdAt,
  };
}
