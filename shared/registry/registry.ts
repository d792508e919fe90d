import type { AliasMoveDocument, DatasetDocument, EvaluationDocument, LeaseDocument, ModelDocument, RunDocument, VersionDocument } from './documents';

/**
 * The model registry: models, versions, datasets and runs, one partition per model.
 * Implemented on Cosmos DB (`cosmos-registry.ts`); the local stack uses the Cosmos REST server.
 */
export interface Registry {
  getModel(model: string): Promise<ModelDocument | undefined>;
  listModels(): Promise<ModelDocument[]>;
  /** Creates the model document; throws `Conflict` when it exists. */
  createModel(doc: ModelDocument): Promise<ModelDocument>;
  /** Replaces the model document if its `_etag` still matches; throws `Conflict` when another writer won. */
  replaceModel(doc: ModelDocument): Promise<ModelDocument>;
  /** Writes a model document whatever is there (used by the rebuild from blob storage). */
  upsertModel(doc: ModelDocument): Promise<ModelDocument>;

  getVersion(model: string, version: number): Promise<VersionDocument | undefined>;
  listVersions(model: string): Promise<VersionDocument[]>;
  upsertVersion(doc: VersionDocument): Promise<VersionDocument>;
  /** Removes a version document (retention); no error when it is already gone. */
  deleteVersion(model: string, version: number): Promise<void>;

  /** Records an alias move; writing the same move (same id) twice keeps one. */
  upsertAliasMove(doc: AliasMoveDocument): Promise<AliasMoveDocument>;
  /** Every alias move of a model, oldest first. */
  listAliasMoves(model: string): Promise<AliasMoveDocument[]>;

  getLease(model: string): Promise<LeaseDocument | undefined>;
  /** Creates the lease document; throws `Conflict` when it exists. */
  createLease(doc: LeaseDocument): Promise<LeaseDocument>;
  /** Replaces the lease if its `_etag` still matches; throws `Conflict` when another writer won. */
  replaceLease(doc: LeaseDocument): Promise<LeaseDocument>;

  getDataset(model: string, datasetId: string): Promise<DatasetDocument | undefined>;
  listDatasets(model: string): Promise<DatasetDocument[]>;
  upsertDataset(doc: DatasetDocument): Promise<DatasetDocument>;

  getRun(model: string, id: string): Promise<RunDocument | undefined>;
  /** Creates a run document; throws `Conflict` when one with that id exists (the idempotency check). */
  createRun(doc: RunDocument): Promise<RunDocument>;
  upsertRun(doc: RunDocument): Promise<RunDocument>;
  /** The model's training runs, newest started first, at most `limit`. */
  listRuns(model: string, limit?: number): Promise<RunDocument[]>;

  /** Records an evaluation; throws `Conflict` when its window was already evaluated. */
  createEvaluation(doc: EvaluationDocument): Promise<EvaluationDocument>;
  /** Removes an evaluation (one whose follow-up failed, so its window is evaluated again); no error when gone. */
  deleteEvaluation(model: string, id: string): Promise<void>;
  /** Writes an evaluation whatever is there (used by the rebuild from blob storage). */
  upsertEvaluation(doc: EvaluationDocument): Promise<EvaluationDocument>;
  /** Evaluations whose window ended in [from, to), newest first, at most `limit`. */
  listEvaluations(model: string, range?: EvaluationRange): Promise<EvaluationDocument[]>;

  /** Cheap reachability check for `GET /health`. */
  ping(): Promise<void>;
}

export interface EvaluationRange {
  /** ISO-8601, inclusive. */
  readonly from?: string | undefined;
  /** ISO-8601, exclusive. */
  readonly to?: string | undefined;
  readonly limit?: number | undefined;
}
