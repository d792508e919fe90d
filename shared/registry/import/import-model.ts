import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CONTAINERS, type BlobStore } from '../../platform/blob-store';
import { ModelloopError, ensureError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { DataContract } from '../../data/data-contract';
import { MODEL_NAME, primaryMetricOf } from '../../data/model-definition';
import { acceptedDatasets, reserveVersion, TRAINING_SEED } from '../../training/retrain';
import type { ModelDocument, RunDocument, SignatureField } from '../documents';
import { buildHoldoutInWorker } from '../holdout-worker';
import { planFeeds, scoreOnHoldout, type Holdout, type OnnxRunner, type PlainTensor, type ScoredVersion } from '../holdout';
import { artifactPath, manifestPath, versionDocumentFromManifest, type Manifest } from '../manifest';
import { applyPromotionPolicy, type PromotionDecision } from '../promotion';
import type { Registry } from '../registry';
import { runIdOf } from '../run-id';
import { DEFAULT_INSPECTION_LIMITS, inspectModel, type InspectionLimits, type ModelSignature, type Refusal } from './inspect-model';
import { DEFAULT_ISOLATION_LIMITS, IsolationError, isolatedRunner, type IsolationLimits } from './isolated-runner';

export interface ImportDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly log: Logger;
  readonly holdoutFraction: number;
  readonly inspection?: InspectionLimits;
  readonly isolation?: IsolationLimits;
}

/** The optional `{file}.json` beside an imported `{file}.onnx`. */
export const sidecarSchema = z
  .object({
    /** For one matrix input `[N, k]`: the k data columns, in order. */
    features: z.array(z.string()).optional(),
    /** Class labels, in the order of the probabilities output. */
    labels: z.array(z.union([z.string(), z.number()])).optional(),
    /** Metrics measured elsewhere; kept as `reported.*`, never used to promote. */
    metrics: z.record(z.string(), z.number()).optional(),
    notes: z.string().max(10_000).optional(),
  })
  .strict();
export type Sidecar = z.infer<typeof sidecarSchema>;

/** `models-incoming/{model}/{file}.onnx.report.json`: what happened to an imported file, and why. */
export interface ImportReport {
  readonly model: string;
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly status: 'registered' | 'refused';
  readonly at: string;
  readonly refusals?: Refusal[];
  readonly version?: number;
  readonly signature?: { inputs: SignatureField[]; outputs: SignatureField[]; opsets: Record<string, number>; producer: string; labels?: (string | number)[] };
  readonly evaluation?: { evaluated: true; rows: number; metrics: Record<string, number> } | { evaluated: false; reason: string };
  readonly servesPredict?: boolean;
  readonly promotion?: PromotionDecision;
}

export type ImportOutcome =
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'duplicate'; readonly version?: number }
  | { readonly kind: 'refused'; readonly report: ImportReport }
  | { readonly kind: 'registered'; readonly version: number; readonly report: ImportReport };

export function importReportPath(model: string, file: string): string {
  return `${model}/${file}.report.json`;
}

/**
 * Brings a data scientist's ONNX file in as a version: static checks first (size, external data,
 * operator domains, opsets, declared tensor sizes), then a load and a smoke run in an isolated
 * child process, then — when its inputs match the data contract — an evaluation on the same
 * holdout rows trained versions are judged on. It is registered with source `imported` and the
 * promotion policy decides its alias. A refused file gets a report beside it saying why.
 * Idempotent by content: the same bytes are imported once.
 */
export async function importModel(deps: ImportDeps, input: { model: string; file: string; bytes: Uint8Array }): Promise<ImportOutcome> {
  const { model, file, bytes } = input;
  if (!file.toLowerCase().endsWith('.onnx')) return { kind: 'ignored', reason: 'not an .onnx file (sidecars and reports are read with their model)' };
  if (!MODEL_NAME.test(model)) return { kind: 'ignored', reason: `"${model}" is not a valid model name` };
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const key = `import:${model}:${sha256}`;
  const runId = runIdOf(key);
  const existing = await deps.registry.getRun(model, runId);
  if (existing?.status === 'succeeded') return { kind: 'duplicate', ...(existing.version ? { version: existing.version } : {}) };

  const base = { model, file, sha256, bytes: bytes.byteLength, at: new Date().toISOString() };
  const refuse = async (refusals: Refusal[], extra: Partial<ImportReport> = {}): Promise<ImportOutcome> => {
    const report: ImportReport = { ...base, status: 'refused', refusals, ...extra };
    await deps.blobs.writeJson(CONTAINERS.modelsIncoming, importReportPath(model, file), report);
    const why = refusals.map((r) => `${r.where}: ${r.message}`).join('; ');
    await deps.registry.upsertRun({ ...run, status: 'failed', message: why, finishedAt: new Date().toISOString() });
    deps.log.warn(`Refused models-incoming/${model}/${file}: ${why}`);
    return { kind: 'refused', report };
  };
  let run: RunDocument = {
    ...(existing ?? {}),
    id: runId,
    type: 'run',
    model,
    key,
    reason: 'import',
    status: 'running',
    datasets: [],
    startedAt: new Date().toISOString(),
  };
  run = await deps.registry.upsertRun(run);

  const modelDoc = await deps.registry.getModel(model);
  if (!modelDoc) return refuse([{ code: 'UnsupportedSignature', where: 'model', message: `model "${model}" is not defined; define it (PUT /models/${model}) and drop the file again` }]);

  const sidecar = await readSidecar(deps.blobs, model, file);
  if (!sidecar.ok) return refuse([{ code: 'Malformed', where: sidecar.where, message: sidecar.message }]);

  const inspection = inspectModel(bytes, deps.inspection ?? DEFAULT_INSPECTION_LIMITS);
  if (!inspection.ok) return refuse(inspection.refusals);
  const signature = inspection.signature;
  const labels = sidecar.value?.labels ?? signature.labels;
  const shape = checkTask(modelDoc, signature, labels);
  const reportSignature = { inputs: signature.inputs, outputs: signature.outputs, opsets: signature.opsets, producer: signature.producer, ...(labels ? { labels } : {}) };
  if (shape) return refuse([shape], { signature: reportSignature });

  const inputs = signature.inputs.map((i) => withFeatureType(i, modelDoc.contract));
  const featureNames = sidecar.value?.features;
  let runner: OnnxRunner | undefined;
  let evaluation: ImportReport['evaluation'];
  let score: ScoredVersion | undefined;
  let holdout: Holdout | undefined;
  let datasets: string[] = [];
  try {
    runner = await isolatedRunner(bytes, deps.isolation ?? DEFAULT_ISOLATION_LIMITS);
    await runner.run(smokeFeeds(inputs, modelDoc.contract));
    const plan = modelDoc.contract ? planFeeds(inputs, modelDoc.contract, featureNames) : { ok: false as const, reason: 'the model has no data contract yet (no accepted drop)' };
    if (plan.ok) {
      const accepted = await acceptedDatasets(deps, modelDoc);
      datasets = accepted.map((d) => d.datasetId);
      holdout = await buildHoldoutInWorker({ definition: modelDoc.definition, contract: modelDoc.contract!, datasets: accepted, seed: TRAINING_SEED, holdoutFraction: deps.holdoutFraction });
      if (holdout.rows > 0) {
        score = await scoreOnHoldout(runner, holdout, { inputs, outputs: signature.outputs, ...(labels ? { labels } : {}), ...(featureNames ? { featureNames } : {}) });
        evaluation = { evaluated: true, rows: score.rows, metrics: score.metrics };
      } else evaluation = { evaluated: false, reason: 'the model has no accepted rows to evaluate on' };
    } else evaluation = { evaluated: false, reason: `its inputs do not match the data contract: ${plan.reason}` };
  } catch (err) {
    if (err instanceof IsolationError) {
      const code = err.reason === 'timeout' ? 'Timeout' : err.reason === 'memory' ? 'MemoryLimit' : err.reason === 'crashed' ? 'Crashed' : 'SmokeRunFailed';
      return refuse([{ code, where: 'isolated load and smoke run', message: err.message }], { signature: reportSignature });
    }
    if (err instanceof ModelloopError) return refuse([{ code: 'Malformed', where: 'evaluation', message: err.message }], { signature: reportSignature });
    throw err;
  } finally {
    await runner?.close();
  }

  const servesPredict = servesNativePredict(modelDoc, inputs, signature.outputs, featureNames);
  const version = run.version ?? (await reserveVersion(deps.registry, model));
  if (run.version === undefined) run = await deps.registry.upsertRun({ ...run, version });
  const metrics = { ...(score?.metrics ?? {}), ...Object.fromEntries(Object.entries(sidecar.value?.metrics ?? {}).map(([k, v]) => [`reported.${k}`, v])) };
  const manifest: Manifest = {
    format: 'modelloop.manifest/1',
    model,
    version,
    createdAt: new Date().toISOString(),
    task: modelDoc.definition.task,
    source: 'imported',
    trainer: `imported${signature.producer ? `:${signature.producer}` : ''}`,
    sha256,
    inputs,
    outputs: signature.outputs,
    ...(labels ? { labels } : {}),
    ignoredInputs: ignoredInputsOf(modelDoc.contract, inputs, featureNames),
    primaryMetric: primaryMetricOf(modelDoc.definition),
    metrics,
    candidates: [],
    seed: TRAINING_SEED,
    datasets,
    trainingRows: 0,
    evaluationRows: score?.rows ?? 0,
    featureStats: {},
    ...(modelDoc.contract ? { contract: modelDoc.contract } : {}),
    runKey: key,
    ...(featureNames ? { featureNames } : {}),
    servesPredict,
    importedFrom: `models-incoming/${model}/${file}`,
    ...(sidecar.value?.notes ? { notes: sidecar.value.notes } : {}),
    opsets: signature.opsets,
  };
  await deps.blobs.write(CONTAINERS.models, artifactPath(model, version), bytes, { contentType: 'application/octet-stream' });
  await deps.blobs.writeJson(CONTAINERS.models, manifestPath(model, version), manifest);
  const registered = await deps.registry.upsertVersion(versionDocumentFromManifest(manifest));
  const current = (await deps.registry.getModel(model)) ?? modelDoc;
  const promotion = await applyPromotionPolicy(deps, {
    model: current,
    candidate: registered,
    ...(score && holdout ? { candidateScore: score, loadHoldout: async () => holdout } : {}),
  });
  const report: ImportReport = { ...base, status: 'registered', version, signature: reportSignature, evaluation: evaluation!, servesPredict, promotion };
  await deps.blobs.writeJson(CONTAINERS.modelsIncoming, importReportPath(model, file), report);
  const alias = promotion.decision === 'none' ? null : promotion.decision;
  await deps.registry.upsertRun({ ...run, status: 'succeeded', version, datasets, promotion, message: `Imported as version ${version}${alias ? ` (${alias})` : ''}: ${promotion.reason}.`, finishedAt: new Date().toISOString() });
  deps.log.info(`Imported models-incoming/${model}/${file} as "${model}" version ${version}; ${promotion.decision}: ${promotion.reason}.`);
  return { kind: 'registered', version, report };
}

async function readSidecar(blobs: BlobStore, model: string, file: string): Promise<{ ok: true; value?: Sidecar } | { ok: false; where: string; message: string }> {
  const name = `${model}/${file.slice(0, -'.onnx'.length)}.json`;
  const blob = await blobs.read(CONTAINERS.modelsIncoming, name);
  if (!blob) return { ok: true };
  let json: unknown;
  try {
    json = JSON.parse(blob.bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, where: name, message: `the sidecar is not valid JSON: ${ensureError(err).message}` };
  }
  const parsed = sidecarSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, where: name, message: `the sidecar is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}` };
  }
  return { ok: true, value: parsed.data };
}

/** A classifier needs a label output; a regressor a numeric one. */
function checkTask(modelDoc: ModelDocument, signature: ModelSignature, labels: readonly (string | number)[] | undefined): Refusal | undefined {
  const outputs = signature.outputs;
  if (modelDoc.definition.task === 'classification') {
    if (!outputs.some((o) => o.type === 'string' || o.type === 'int64')) {
      return { code: 'UnsupportedSignature', where: 'graph.output', message: `model "${modelDoc.model}" is a classification; the file has no label output (a string or int64 tensor)` };
    }
    const probabilities = outputs.find((o) => o.type === 'float' && o.shape.length === 2);
    const k = probabilities?.shape[1];
    if (probabilities && labels && k !== undefined && k > 0 && k !== labels.length) {
      return { code: 'UnsupportedSignature', where: `output "${probabilities.name}"`, message: `has ${k} probability columns but ${labels.length} labels are known (${labels.join(', ')})` };
    }
    return undefined;
  }
  if (!outputs.some((o) => o.type === 'float' || o.type === 'double')) {
    return { code: 'UnsupportedSignature', where: 'graph.output', message: `model "${modelDoc.model}" is a regression; the file has no float output` };
  }
  return undefined;
}

function withFeatureType(input: SignatureField, contract: DataContract | undefined): SignatureField {
  const spec = contract?.features[input.name];
  return spec ? { ...input, featureType: spec.type, nullable: spec.nullable ?? false } : input;
}

/**
 * Native predict builds one float or string tensor per named column and reads `label` and
 * `probabilities` (or the first output of a regressor); anything else serves through V2 only.
 */
function servesNativePredict(modelDoc: ModelDocument, inputs: SignatureField[], outputs: SignatureField[], featureNames: readonly string[] | undefined): boolean {
  if (!modelDoc.contract || featureNames) return false;
  if (!planFeeds(inputs, modelDoc.contract).ok) return false;
  if (!inputs.every((i) => i.type === 'float' || i.type === 'string')) return false;
  if (modelDoc.definition.task === 'classification') {
    return outputs.some((o) => o.name === 'label') && outputs.some((o) => o.name === 'probabilities' && o.type === 'float');
  }
  return outputs.some((o) => o.type === 'float');
}

function ignoredInputsOf(contract: DataContract | undefined, inputs: SignatureField[], featureNames: readonly string[] | undefined): string[] {
  if (!contract) return [];
  const used = new Set([...inputs.map((i) => i.name), ...(featureNames ?? [])]);
  return [contract.target.name, ...Object.keys(contract.excluded), ...Object.keys(contract.features).filter((f) => !used.has(f))];
}

/** Two synthetic rows per input: symbolic dimensions become 2 (the batch) or 1. */
function smokeFeeds(inputs: SignatureField[], contract: DataContract | undefined): Record<string, PlainTensor> {
  const feeds: Record<string, PlainTensor> = {};
  for (const input of inputs) {
    const dims = input.shape.map((d, i) => (d >= 0 ? d : i === 0 ? 2 : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    switch (input.type) {
      case 'string': {
        const known = contract?.features[input.name]?.values?.map(String) ?? ['a', 'b'];
        feeds[input.name] = { type: 'string', dims, data: Array.from({ length: n }, (_, i) => known[i % known.length] ?? 'a') };
        break;
      }
      case 'double':
        feeds[input.name] = { type: 'float64', dims, data: Float64Array.from({ length: n }, (_, i) => i % 3) };
        break;
      case 'int64':
        feeds[input.name] = { type: 'int64', dims, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3)) };
        break;
      case 'int32':
        feeds[input.name] = { type: 'int32', dims, data: Int32Array.from({ length: n }, (_, i) => i % 3) };
        break;
      case 'bool':
        feeds[input.name] = { type: 'bool', dims, data: Uint8Array.from({ length: n }, (_, i) => i % 2) };
        break;
      default:
        feeds[input.name] = { type: 'float32', dims, data: Float32Array.from({ length: n }, (_, i) => i % 3) };
    }
  }
  return feeds;
}
