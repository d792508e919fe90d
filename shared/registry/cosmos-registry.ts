import { Agent as HttpsAgent } from 'node:https';
import { CosmosClient, ErrorResponse, type Container } from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';
import type { ZodType } from 'zod';
import { ModelloopError } from '../platform/errors';
import {
  aliasMoveDocumentSchema,
  leaseDocumentSchema,
  type AliasMoveDocument,
  type LeaseDocument,
  datasetDocumentId,
  datasetDocumentSchema,
  evaluationDocumentSchema,
  modelDocumentSchema,
  runDocumentSchema,
  versionDocumentSchema,
  versionId,
  type DatasetDocument,
  type EvaluationDocument,
  type ModelDocument,
  type RunDocument,
  type VersionDocument,
} from './documents';
import type { EvaluationRange, Registry } from './registry';

export interface CosmosRegistryOptions {
  readonly endpoint: string;
  /** The account key: the emulator's locally. Without one, `credential` signs in (Entra ID, data-plane RBAC). */
  readonly key?: string | undefined;
  readonly credential?: TokenCredential | undefined;
  readonly database: string;
  readonly container: string;
}

/** The registry on Cosmos DB (NoSQL API): database `modelloop`, container `registry`, partition `/model`. */
export class CosmosRegistry implements Registry {
  readonly #client: CosmosClient;
  readonly #options: CosmosRegistryOptions;
  #container: Container | undefined;

  constructor(options: CosmosRegistryOptions) {
    this.#options = options;
    const loopback = /^https:\/\/(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(options.endpoint);
    this.#client = new CosmosClient({
      endpoint: options.endpoint,
      ...(options.key ? { key: options.key } : { aadCredentials: options.credential }),
      connectionPolicy: { enableEndpointDiscovery: false },
      // Local emulators use self-signed certificates; trust them on loopback only.
      ...(loopback ? { agent: new HttpsAgent({ rejectUnauthorized: false }) } : {}),
    });
  }

  /**
   * Creates the database and container when missing. Returns true when the container was
   * created just now: the registry is empty and should be rebuilt from blob storage.
   * Every cold instance runs this before its first request, and the container almost always
   * exists: so one read of it first, and the database and container round trips only when it is missing.
   */
  async initialise(): Promise<boolean> {
    const existing = this.#client.database(this.#options.database).container(this.#options.container);
    try {
      await existing.read();
      this.#container = existing;
      return false;
    } catch (err) {
      if (!(err instanceof ErrorResponse && err.code === 404)) throw err;
    }
    const { database } = await this.#client.databases.createIfNotExists({ id: this.#options.database });
    const { container, statusCode } = await database.containers.createIfNotExists({
      id: this.#options.container,
      partitionKey: { paths: ['/model'] },
    });
    this.#container = container;
    return statusCode === 201;
  }

  get #c(): Container {
    if (!this.#container) throw new Error('CosmosRegistry.initialise() must run before the registry is used');
    return this.#container;
  }

  getModel(model: string): Promise<ModelDocument | undefined> {
    return this.#read(model, 'model', modelDocumentSchema);
  }

  async listModels(): Promise<ModelDocument[]> {
    return this.#query(undefined, 'model', modelDocumentSchema);
  }

  createModel(doc: ModelDocument): Promise<ModelDocument> {
    return this.#create(doc, modelDocumentSchema, `Model "${doc.model}" was created by another request at the same time; read it again.`);
  }

  replaceModel(doc: ModelDocument): Promise<ModelDocument> {
    return this.#replace(doc, modelDocumentSchema, `Model "${doc.model}" was changed by another request; read it again and retry.`);
  }

  upsertModel(doc: ModelDocument): Promise<ModelDocument> {
    return this.#upsert(doc, modelDocumentSchema);
  }

  getVersion(model: string, version: number): Promise<VersionDocument | undefined> {
    return this.#read(model, versionId(version), versionDocumentSchema);
  }

  async listVersions(model: string): Promise<VersionDocument[]> {
    const versions = await this.#query(model, 'version', versionDocumentSchema);
    return versions.sort((a, b) => a.version - b.version);
  }

  upsertVersion(doc: VersionDocument): Promise<VersionDocument> {
    return this.#upsert(doc, versionDocumentSchema);
  }

  async deleteVersion(model: string, version: number): Promise<void> {
    await this.#delete(model, versionId(version));
  }

  upsertAliasMove(doc: AliasMoveDocument): Promise<AliasMoveDocument> {
    return this.#upsert(doc, aliasMoveDocumentSchema);
  }

  async listAliasMoves(model: string): Promise<AliasMoveDocument[]> {
    const moves = await this.#query(model, 'alias-move', aliasMoveDocumentSchema);
    return moves.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1));
  }

  getLease(model: string): Promise<LeaseDocument | undefined> {
    return this.#read(model, 'lease', leaseDocumentSchema);
  }

  createLease(doc: LeaseDocument): Promise<LeaseDocument> {
    return this.#create(doc, leaseDocumentSchema, `The training lease of "${doc.model}" was taken by another run.`);
  }

  replaceLease(doc: LeaseDocument): Promise<LeaseDocument> {
    return this.#replace(doc, leaseDocumentSchema, `The training lease of "${doc.model}" was changed by another run.`);
  }

  getDataset(model: string, datasetId: string): Promise<DatasetDocument | undefined> {
    return this.#read(model, datasetDocumentId(datasetId), datasetDocumentSchema);
  }

  async listDatasets(model: string): Promise<DatasetDocument[]> {
    const datasets = await this.#query(model, 'dataset', datasetDocumentSchema);
    return datasets.sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : 0));
  }

  upsertDataset(doc: DatasetDocument): Promise<DatasetDocument> {
    return this.#upsert(doc, datasetDocumentSchema);
  }

  getRun(model: string, id: string): Promise<RunDocument | undefined> {
    return this.#read(model, id, runDocumentSchema);
  }

  async createRun(doc: RunDocument): Promise<RunDocument> {
    try {
      const { resource } = await this.#c.items.create(runDocumentSchema.parse(doc));
      return runDocumentSchema.parse(resource);
    } catch (err) {
      if (err instanceof ErrorResponse && err.code === 409) {
        throw new ModelloopError('Conflict', `A run with key "${doc.key}" already exists for model "${doc.model}".`);
      }
      throw err;
    }
  }

  upsertRun(doc: RunDocument): Promise<RunDocument> {
    return this.#upsert(doc, runDocumentSchema);
  }

  async listRuns(model: string, limit = 50): Promise<RunDocument[]> {
    const query = {
      query: `SELECT TOP ${Math.max(1, Math.floor(limit))} * FROM c WHERE c.model = @model AND c.type = 'run' ORDER BY c.startedAt DESC`,
      parameters: [{ name: '@model', value: model }],
    };
    const { resources } = await this.#c.items.query(query, { partitionKey: model }).fetchAll();
    return resources.map((r) => runDocumentSchema.parse(r));
  }

  createEvaluation(doc: EvaluationDocument): Promise<EvaluationDocument> {
    return this.#create(doc, evaluationDocumentSchema, `Model "${doc.model}" was already evaluated for the window starting ${doc.windowStart}.`);
  }

  async deleteEvaluation(model: string, id: string): Promise<void> {
    await this.#delete(model, id);
  }

  upsertEvaluation(doc: EvaluationDocument): Promise<EvaluationDocument> {
    return this.#upsert(doc, evaluationDocumentSchema);
  }

  async listEvaluations(model: string, range: EvaluationRange = {}): Promise<EvaluationDocument[]> {
    const where = ['c.model = @model', "c.type = 'evaluation'"];
    const parameters: { name: string; value: string | number }[] = [{ name: '@model', value: model }];
    if (range.from) {
      where.push('c.windowEnd >= @from');
      parameters.push({ name: '@from', value: range.from });
    }
    if (range.to) {
      where.push('c.windowEnd < @to');
      parameters.push({ name: '@to', value: range.to });
    }
    const top = range.limit ? `TOP ${Math.max(1, Math.floor(range.limit))} ` : '';
    const query = { query: `SELECT ${top}* FROM c WHERE ${where.join(' AND ')} ORDER BY c.windowEnd DESC`, parameters };
    const { resources } = await this.#c.items.query(query, { partitionKey: model }).fetchAll();
    return resources.map((r) => evaluationDocumentSchema.parse(r));
  }

  async ping(): Promise<void> {
    await this.#c.read();
  }

  async #delete(model: string, id: string): Promise<void> {
    try {
      await this.#c.item(id, model).delete();
    } catch (err) {
      if (!(err instanceof ErrorResponse && err.code === 404)) throw err;
    }
  }

  async #read<T>(model: string, id: string, schema: ZodType<T>): Promise<T | undefined> {
    const { resource, statusCode } = await this.#c.item(id, model).read();
    if (statusCode === 404 || !resource) return undefined;
    // A point read is one document, and a cold instance's first request makes two (model, version):
    // zod's compiled fast path costs several ms to build per schema, more than it saves on a few parses.
    return schema.parse(resource, { jitless: true });
  }

  async #create<T extends { model: string }>(doc: T, schema: ZodType<T>, conflict: string): Promise<T> {
    try {
      const { resource } = await this.#c.items.create(schema.parse(doc) as object);
      return schema.parse(resource);
    } catch (err) {
      if (err instanceof ErrorResponse && err.code === 409) throw new ModelloopError('Conflict', conflict);
      throw err;
    }
  }

  /** Replace with If-Match on the document's `_etag`: the loser of a race gets `Conflict`. */
  async #replace<T extends { id: string; model: string; _etag?: string | undefined }>(doc: T, schema: ZodType<T>, conflict: string): Promise<T> {
    const body = schema.parse(doc) as T;
    try {
      const { resource } = await this.#c
        .item(doc.id, doc.model)
        .replace(body as object, doc._etag ? { accessCondition: { type: 'IfMatch', condition: doc._etag } } : {});
      return schema.parse(resource);
    } catch (err) {
      if (err instanceof ErrorResponse && (err.code === 412 || err.code === 404)) throw new ModelloopError('Conflict', conflict);
      throw err;
    }
  }

  async #upsert<T>(doc: T, schema: ZodType<T>): Promise<T> {
    const { resource } = await this.#c.items.upsert(schema.parse(doc) as object);
    return schema.parse(resource);
  }

  async #query<T>(model: string | undefined, type: string, schema: ZodType<T>): Promise<T[]> {
    const query = model
      ? { query: 'SELECT * FROM c WHERE c.model = @model AND c.type = @type', parameters: [{ name: '@model', value: model }, { name: '@type', value: type }] }
      : { query: 'SELECT * FROM c WHERE c.type = @type', parameters: [{ name: '@type', value: type }] };
    const { resources } = await this.#c.items.query(query, model ? { partitionKey: model } : {}).fetchAll();
    return resources.map((r) => schema.parse(r));
  }
}
