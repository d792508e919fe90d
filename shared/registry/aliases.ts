import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { assertModelName } from '../data/model-definition';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ModelloopError, describeProblems, problemsFromZod } from '../platform/errors';
import { aliasRecordSchema, recordAliasMove } from './durable-record';
import { aliasMoveId, type AliasMoveDocument, type ModelDocument } from './documents';
import { aliasesPath } from './manifest';
import type { Registry } from './registry';

export interface AliasDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
}

/** Aliases are lowercase words: `production`, `challenger`, `staging`, `canary-eu`. */
export const ALIAS_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export interface AliasMoveRequest {
  readonly model: string;
  readonly alias: string;
  readonly version: number;
  /** Who or what moves it: `system:first-version`, `policy:auto`, `user:<name>`. */
  readonly by: string;
  readonly reason: string;
  /** Move only if the alias is unset (the first version becomes production this way). */
  readonly onlyIfUnset?: boolean;
  /**
   * Retry whenever another writer changed the model document in between. Without it (operators'
   * moves) a move retries only while the alias itself is still where the move first found it: a
   * retrain finishing its bookkeeping, or another alias moving, is no reason to fail; this alias
   * moving meanwhile is a `Conflict` (409) the operator should look at. @default false
   */
  readonly retryOnConflict?: boolean;
  /** Apply only if the model document still has this ETag (the state the operator saw). */
  readonly ifMatch?: string;
  /** Move only while the alias still points here (a policy decided against this version). */
  readonly expectedFrom?: number;
}

export interface AliasMoveResult {
  readonly model: ModelDocument;
  /** The move recorded, or undefined when the alias already pointed there (or `onlyIfUnset` found it set). */
  readonly move?: AliasMoveDocument;
}

export function assertAliasName(alias: string): void {
  if (!ALIAS_NAME.test(alias)) {
    throw new ModelloopError('InvalidInput', `Alias "${alias}" is not valid: use a lowercase word such as "production" or "challenger" (letters, digits, hyphens; at most 32).`, [
      { path: ['alias'], message: 'invalid alias name', expected: ALIAS_NAME.source, received: alias },
    ]);
  }
}

/**
 * Points an alias at a registered version. The model document is replaced with If-Match on its
 * ETag — the one point where two movers can meet, so the loser changes nothing — and then the
 * move is recorded as an `alias-move` document and in `models/{model}/aliases.json` (the durable
 * record the registry is rebuilt from).
 */
export async function moveAlias(deps: AliasDeps, request: AliasMoveRequest): Promise<AliasMoveResult> {
  const { model, alias, version } = request;
  assertAliasName(alias);
  /** Where the alias pointed when this move first read the model document. */
  let found: number | null | undefined;
  for (let attempt = 0; ; attempt++) {
    const doc = await deps.registry.getModel(model);
    if (!doc) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
    if (request.ifMatch !== undefined && doc._etag !== request.ifMatch) throw staleConflict(model, alias);
    if (request.onlyIfUnset && doc.aliases[alias] !== undefined) return { model: doc };
    if (request.expectedFrom !== undefined && doc.aliases[alias] !== request.expectedFrom) return { model: doc };
    if (doc.retired?.includes(version) || !(await deps.registry.getVersion(model, version))) {
      throw new ModelloopError('VersionNotFound', `Model "${model}" has no registered version ${version}; an alias can only point at a registered version.`);
    }
    const from = doc.aliases[alias] ?? null;
    if (from === version) {
      await ensureDurable(deps, model, alias, version, request);
      return { model: doc };
    }
    if (found !== undefined && from !== found && !request.retryOnConflict) throw concurrentConflict(model, alias);
    found ??= from;
    const at = new Date().toISOString();
    const updated = await replaceOrRetry(deps, { ...doc, aliases: { ...doc.aliases, [alias]: version }, updatedAt: at }, attempt, alias);
    if (!updated) continue;
    const move = await record(deps, model, { alias, from, to: version, at, by: request.by, reason: request.reason });
    return { model: updated, move };
  }
}

export interface AliasRemoveRequest {
  readonly model: string;
  readonly alias: string;
  readonly by: string;
  readonly reason: string;
  readonly ifMatch?: string;
}

/**
 * Removes an alias (`DELETE /models/{model}/aliases/{alias}`), recorded like a move to nothing. Like
 * an operator's move, it retries a conflict while the alias still points where it first found it.
 */
export async function removeAlias(deps: AliasDeps, request: AliasRemoveRequest): Promise<AliasMoveResult> {
  const { model, alias } = request;
  assertAliasName(alias);
  let found: number | undefined;
  for (let attempt = 0; ; attempt++) {
    const doc = await deps.registry.getModel(model);
    if (!doc) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
    if (request.ifMatch !== undefined && doc._etag !== request.ifMatch) throw staleConflict(model, alias);
    const from = doc.aliases[alias];
    if (found !== undefined && from !== found) throw concurrentConflict(model, alias);
    if (from === undefined) {
      throw new ModelloopError('VersionNotFound', `Model "${model}" has no alias "${alias}"; its aliases are: ${Object.keys(doc.aliases).join(', ') || 'none'}.`);
    }
    found = from;
    const aliases = { ...doc.aliases };
    delete aliases[alias];
    const at = new Date().toISOString();
    const updated = await replaceOrRetry(deps, { ...doc, aliases, updatedAt: at }, attempt, alias);
    if (!updated) continue;
    const move = await record(deps, model, { alias, from, to: null, at, by: request.by, reason: request.reason });
    return { model: updated, move };
  }
}

interface MoveFacts {
  readonly alias: string;
  readonly from: number | null;
  readonly to: number | null;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
}

async function record(deps: AliasDeps, model: string, move: MoveFacts): Promise<AliasMoveDocument> {
  const id = aliasMoveId(move.at, move.alias, randomUUID().slice(0, 8));
  const doc = await deps.registry.upsertAliasMove({ id, type: 'alias-move', model, ...move });
  await recordAliasMove(deps.blobs, model, { id, alias: move.alias, from: move.from, to: move.to, at: move.at, by: move.by, reason: move.reason });
  return doc;
}

/**
 * The alias is already where it should be in the registry; make sure the durable record agrees
 * (a previous attempt may have stopped between the registry write and the blob write).
 */
async function ensureDurable(deps: AliasDeps, model: string, alias: string, version: number, request: AliasMoveRequest): Promise<void> {
  const blob = await deps.blobs.readJson(CONTAINERS.models, aliasesPath(model));
  const recorded = blob ? aliasRecordSchema.parse(blob.value).aliases[alias] : undefined;
  if (recorded !== version) {
    await record(deps, model, { alias, from: recorded ?? null, to: version, at: new Date().toISOString(), by: request.by, reason: `${request.reason} (record repaired)` });
  }
}

/** Attempts at an alias change whose model document write keeps meeting another writer's. */
const MAX_ATTEMPTS = 6;

/**
 * Writes the model document with If-Match on its ETag: the document written, or undefined when another
 * writer got there first and the caller may read it again and retry (a Conflict after MAX_ATTEMPTS).
 */
async function replaceOrRetry(deps: AliasDeps, next: ModelDocument, attempt: number, alias: string): Promise<ModelDocument | undefined> {
  try {
    return await deps.registry.replaceModel(next);
  } catch (err) {
    if (!(err instanceof ModelloopError && err.code === 'Conflict')) throw err;
    if (attempt + 1 >= MAX_ATTEMPTS) throw concurrentConflict(next.model, alias);
    return undefined;
  }
}

function concurrentConflict(model: string, alias: string): ModelloopError {
  return new ModelloopError(
    'Conflict',
    `"${alias}" of model "${model}" was changed by another request while this one was changing it; nothing was changed by this request. ` +
      `GET /models/${model} to see where the aliases point now, then try again if you still want this move.`,
  );
}

function staleConflict(model: string, alias: string): ModelloopError {
  return new ModelloopError(
    'Conflict',
    `Model "${model}" changed since the state given in If-Match; "${alias}" was not moved. GET /models/${model} and decide again.`,
  );
}

const setAliasBodySchema = z.object({
  version: z.number({ error: 'is required: the version number the alias should point at' }).int('must be a whole number').positive('versions start at 1'),
  reason: z.string().max(500).optional(),
});

export interface OperatorMove {
  readonly model: string;
  readonly alias: string;
  /** The operator, e.g. from `x-ms-client-principal-name`; `admin` when the caller used the admin key. */
  readonly operator: string;
  /** `If-Match` from the request: the model ETag the operator decided on. */
  readonly ifMatch?: string;
}

/** `PUT /models/{model}/aliases/{alias}` with `{"version": N, "reason": "..."}`: promote or roll back. */
export async function setAliasByOperator(deps: AliasDeps, move: OperatorMove, body: unknown): Promise<AliasView> {
  assertModelName(move.model);
  const parsed = setAliasBodySchema.safeParse(body);
  if (!parsed.success) {
    const problems = problemsFromZod(parsed.error.issues);
    throw new ModelloopError('InvalidInput', `The alias move is not valid: ${describeProblems(problems)}. Send {"version": 3, "reason": "why"}.`, problems);
  }
  const before = await deps.registry.getModel(move.model);
  const from = before?.aliases[move.alias];
  const verb = from === undefined ? 'set' : parsed.data.version < from ? 'rolled back' : 'promoted';
  const result = await moveAlias(deps, {
    model: move.model,
    alias: move.alias,
    version: parsed.data.version,
    by: `user:${move.operator}`,
    reason: parsed.data.reason ?? `${verb} by an operator`,
    ...(move.ifMatch !== undefined ? { ifMatch: move.ifMatch } : {}),
  });
  return aliasView(result, move.alias);
}

/** `DELETE /models/{model}/aliases/{alias}`. */
export async function deleteAliasByOperator(deps: AliasDeps, move: OperatorMove, reason?: string): Promise<AliasView> {
  assertModelName(move.model);
  const result = await removeAlias(deps, {
    model: move.model,
    alias: move.alias,
    by: `user:${move.operator}`,
    reason: reason ?? 'removed by an operator',
    ...(move.ifMatch !== undefined ? { ifMatch: move.ifMatch } : {}),
  });
  return aliasView(result, move.alias);
}

/** What an operator sees after a move: where every alias points now, and the move itself. */
export interface AliasView {
  readonly model: string;
  readonly alias: string;
  readonly version: number | null;
  readonly aliases: Record<string, number>;
  /** The model document's ETag after the move: send it as If-Match to make the next move conditional. */
  readonly etag?: string;
  readonly move?: Omit<AliasMoveDocument, 'id' | 'type' | 'model' | '_etag'>;
  readonly changed: boolean;
}

function aliasView(result: AliasMoveResult, alias: string): AliasView {
  const m = result.move;
  return {
    model: result.model.model,
    alias,
    version: result.model.aliases[alias] ?? null,
    aliases: result.model.aliases,
    ...(result.model._etag ? { etag: result.model._etag } : {}),
    ...(m ? { move: { alias: m.alias, from: m.from, to: m.to, at: m.at, by: m.by, reason: m.reason } } : {}),
    changed: m !== undefined,
  };
}

/** The operator named by App Service authentication, or `admin` for a caller holding the admin key. */
export function operatorOf(principal: string | null | undefined): string {
  const name = (principal ?? '').trim();
  return name === '' ? 'admin' : name.slice(0, 200);
}
