import type { BlobStore } from '../platform/blob-store';
import { ModelloopError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import { assertModelName, parseModelDefinition, type ModelDefinition } from '../data/model-definition';
import type { ModelDocument, VersionDocument } from './documents';
import { writeDefinitionRecord } from './durable-record';
import type { Registry } from './registry';

export interface DefineModelDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly log: Logger;
}

export interface DefineModelResult {
  readonly model: ModelDocument;
  readonly created: boolean;
}

/**
 * Defines a model or updates its definition. The data contract is kept unless the definition now
 * lists its features (then the listed features are the contract); the task and target cannot change
 * once data has been accepted against them.
 */
export async function defineModel(deps: DefineModelDeps, model: string, body: unknown): Promise<DefineModelResult> {
  assertModelName(model);
  const definition = parseModelDefinition(body);
  const now = new Date().toISOString();
  const existing = await deps.registry.getModel(model);
  if (!existing) {
    const doc: ModelDocument = { id: 'model', type: 'model', model, definition, aliases: {}, latestVersion: 0, createdAt: now, updatedAt: now };
    await writeDefinitionRecord(deps.blobs, doc);
    const created = await deps.registry.createModel(doc);
    deps.log.info(`Model "${model}" defined: ${definition.task} of "${definition.target}".`);
    return { model: created, created: true };
  }
  if (existing.contract && (existing.definition.task !== definition.task || existing.definition.target !== definition.target)) {
    throw new ModelloopError(
      'Conflict',
      `Model "${model}" already holds data for a ${existing.definition.task} of "${existing.definition.target}"; ` +
        `its task and target cannot change. Define a new model for a ${definition.task} of "${definition.target}".`,
      [{ path: ['target'], message: 'cannot change once data is accepted', expected: existing.definition.target, received: definition.target }],
    );
  }
  const contract = definition.features ? undefined : existing.contract;
  const next: ModelDocument = { ...existing, definition, updatedAt: now };
  if (contract) next.contract = contract;
  else delete next.contract;
  await writeDefinitionRecord(deps.blobs, next);
  const updated = await deps.registry.replaceModel(next);
  deps.log.info(`Model "${model}" definition updated.`);
  return { model: updated, created: false };
}

export interface ModelView {
  readonly model: string;
  readonly definition: ModelDefinition;
  readonly contract?: ModelDocument['contract'];
  readonly aliases: Record<string, number>;
  readonly latestVersion: number;
  readonly versions: VersionSummary[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface VersionSummary {
  readonly version: number;
  readonly aliases: string[];
  readonly trainer: string;
  readonly source: string;
  readonly primaryMetric: string;
  readonly metrics: Record<string, number>;
  readonly trainingRows: number;
  readonly datasets: string[];
  readonly createdAt: string;
}

export async function describeModel(registry: Registry, model: string): Promise<ModelView> {
  assertModelName(model);
  const doc = await registry.getModel(model);
  if (!doc) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined. Define it with PUT /models/${model}.`);
  const versions = await registry.listVersions(model);
  return {
    model,
    definition: doc.definition,
    ...(doc.contract ? { contract: doc.contract } : {}),
    aliases: doc.aliases,
    latestVersion: doc.latestVersion,
    versions: versions.map((v) => summarizeVersion(v, doc.aliases)),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function summarizeVersion(v: VersionDocument, aliases: Record<string, number>): VersionSummary {
  return {
    version: v.version,
    aliases: Object.entries(aliases)
      .filter(([, version]) => version === v.version)
      .map(([alias]) => alias),
    trainer: v.trainer,
    source: v.source,
    primaryMetric: v.primaryMetric,
    metrics: v.metrics,
    trainingRows: v.trainingRows,
    datasets: v.datasets,
    createdAt: v.createdAt,
  };
}
