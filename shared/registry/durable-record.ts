import { z } from 'zod';
import { modelDefinitionSchema } from '../data/model-definition';
import { CONTAINERS, isConditionFailure, type BlobStore } from '../platform/blob-store';
import { aliasMoveFields, dataContractSchema, type ModelDocument } from './documents';
import { aliasesPath, definitionPath, manifestPath, manifestSchema, type Manifest } from './manifest';

/**
 * The durable record in blob storage that the registry can always be rebuilt from: each model's
 * definition and data contract, and its alias moves. Versions are recorded by their manifests.
 */

export const definitionRecordSchema = z.object({
  model: z.string(),
  definition: modelDefinitionSchema,
  contract: dataContractSchema.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type DefinitionRecord = z.infer<typeof definitionRecordSchema>;

export const aliasMoveSchema = z.object({
  /** The id of the registry's `alias-move` document, so a rebuild restores the same one. */
  id: z.string().optional(),
  ...aliasMoveFields,
});
export type AliasMove = z.infer<typeof aliasMoveSchema>;

export const aliasRecordSchema = z.object({
  model: z.string(),
  aliases: z.record(z.string(), z.number().int().positive()),
  moves: z.array(aliasMoveSchema),
});
export type AliasRecord = z.infer<typeof aliasRecordSchema>;

export async function writeDefinitionRecord(blobs: BlobStore, doc: ModelDocument): Promise<void> {
  const record: DefinitionRecord = {
    model: doc.model,
    definition: doc.definition,
    ...(doc.contract ? { contract: doc.contract } : {}),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
  await blobs.writeJson(CONTAINERS.models, definitionPath(doc.model), record);
}

/** Appends an alias move to `models/{model}/aliases.json`, with ETag checks so concurrent moves serialise. */
export async function recordAliasMove(blobs: BlobStore, model: string, move: AliasMove): Promise<AliasRecord> {
  for (let attempt = 0; ; attempt++) {
    const existing = await blobs.readJson(CONTAINERS.models, aliasesPath(model));
    const record: AliasRecord = existing ? aliasRecordSchema.parse(existing.value) : { model, aliases: {}, moves: [] };
    if (move.to === null) delete record.aliases[move.alias];
    else record.aliases[move.alias] = move.to;
    record.moves.push(move);
    try {
      await blobs.writeJson(CONTAINERS.models, aliasesPath(model), record, existing ? { ifMatch: existing.etag } : { ifNotExists: true });
      return record;
    } catch (err) {
      if (!isConditionFailure(err) || attempt >= 10) throw err;
    }
  }
}

/** The manifest of a version, or undefined when its blob is gone; a manifest that does not parse throws. */
export async function readManifest(blobs: BlobStore, model: string, version: number): Promise<Manifest | undefined> {
  const blob = await blobs.readJson(CONTAINERS.models, manifestPath(model, version));
  return blob ? manifestSchema.parse(blob.value) : undefined;
}
