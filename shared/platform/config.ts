import { z } from 'zod';
import { DEFAULT_EVALUATION_SCHEDULE, scheduleProblem } from '../monitoring/schedule';

/**
 * Every setting modelloop reads, in one place (t3-env style): read once, validated, and a start-up
 * failure names every missing or malformed setting. Empty strings count as unset.
 * `local.settings.sample.json` lists the same settings with their local defaults.
 */
const emptyAsUnset = (value: unknown): unknown => (value === '' ? undefined : value);
const positiveNumber = (fallback: number) => z.preprocess(emptyAsUnset, z.coerce.number().positive().default(fallback));
const fraction = (fallback: number) => z.preprocess(emptyAsUnset, z.coerce.number().min(0).max(1).default(fallback));

const optionalText = z.preprocess(emptyAsUnset, z.string().optional());
// `managedidentity` as the Functions host spells it; `default` is DefaultAzureCredential (developer sign-in).
const identityKind = z.preprocess(
  (value) => (typeof value === 'string' ? emptyAsUnset(value.toLowerCase()) : value),
  z.enum(['managedidentity', 'default'], { error: 'must be "managedidentity" or "default"' }).optional(),
);
const retrainTransportSchema = z.preprocess(
  (value) => (typeof value === 'string' ? emptyAsUnset(value.toLowerCase()) : value),
  z.enum(['storage', 'servicebus'], { error: 'must be "storage" or "servicebus"' }).default('storage'),
);

const evaluationScheduleSchema = z.preprocess(
  emptyAsUnset,
  z
    .string()
    .default(DEFAULT_EVALUATION_SCHEDULE)
    .superRefine((text, ctx) => {
      const problem = scheduleProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
);

const settingsSchema = z.object({
  /** Storage account for data, models, reports and the retrain queue, as a connection string (Azurite locally). */
  AzureWebJobsStorage: z.preprocess(emptyAsUnset, z.string().optional()),
  /** Identity-based storage (Azure): blob endpoint, used instead of `AzureWebJobsStorage`. */
  AzureWebJobsStorage__blobServiceUri: z.preprocess(emptyAsUnset, z.url({ error: 'must be the blob endpoint URL' }).optional()),
  /** Identity-based storage (Azure): queue endpoint. */
  AzureWebJobsStorage__queueServiceUri: z.preprocess(emptyAsUnset, z.url({ error: 'must be the queue endpoint URL' }).optional()),
  AzureWebJobsStorage__credential: identityKind,
  AzureWebJobsStorage__clientId: optionalText,
  /** Cosmos DB account endpoint holding the registry. */
  COSMOS_ENDPOINT: z.preprocess(emptyAsUnset, z.url({ error: 'must be the Cosmos DB account endpoint URL' })),
  /** Cosmos DB key; only the local emulator key belongs here (Azure uses a managed identity). */
  COSMOS_KEY: z.preprocess(emptyAsUnset, z.string().optional()),
  /** `managedidentity` (Azure) or `default` (DefaultAzureCredential, e.g. `az login`): connect to Cosmos DB without a key. */
  COSMOS_CREDENTIAL: identityKind,
  COSMOS_CLIENT_ID: optionalText,
  COSMOS_DATABASE: z.preprocess(emptyAsUnset, z.string().default('modelloop')),
  COSMOS_CONTAINER: z.preprocess(emptyAsUnset, z.string().default('registry')),
  /** Where retrain requests travel: `storage` (Storage queue, the local default) or `servicebus` (Azure). */
  RETRAIN_TRANSPORT: retrainTransportSchema,
  /** Service Bus namespace host (`<name>.servicebus.windows.net`); required when RETRAIN_TRANSPORT is `servicebus`. */
  ServiceBus__fullyQualifiedNamespace: optionalText,
  ServiceBus__credential: identityKind,
  ServiceBus__clientId: optionalText,
  /** Deliveries of one retrain request before it is parked (queue `maxDeliveryCount`, host.json `maxDequeueCount`). */
  RETRAIN_MAX_DELIVERIES: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).default(5)),
  /** Application Insights; when set, traces, events and metrics go to Azure Monitor. */
  APPLICATIONINSIGHTS_CONNECTION_STRING: optionalText,
  /** `Authorization=AAD;ClientId=<id>`: sign in to Application Insights ingestion with the managed identity (the host reads it too). */
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: optionalText,
  /** Upper bound on one training run; the model definition may ask for less. */
  TRAINING_TIME_BUDGET_SECONDS: positiveNumber(600),
  /** How long a resolved alias (e.g. `production` → 3) is reused before asking the registry again. */
  ALIAS_CACHE_SECONDS: z.preprocess(emptyAsUnset, z.coerce.number().min(0).default(2)),
  /** Largest scoring request body accepted, in bytes. */
  MAX_REQUEST_BYTES: positiveNumber(10 * 1024 * 1024),
  /** Most rows accepted in one scoring request. */
  MAX_REQUEST_ROWS: positiveNumber(10_000),
  /** Largest data drop accepted, in bytes. */
  MAX_DROP_BYTES: positiveNumber(512 * 1024 * 1024),
  /** Fraction of rows held out for evaluation when training. */
  HOLDOUT_FRACTION: fraction(0.2),
  /** Registry: versions without an alias kept per model; older ones are deleted (an aliased version never is). */
  RETAIN_UNALIASED_VERSIONS: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).default(20)),
  /** Imports: largest ONNX file accepted from `models-incoming/`, in bytes. */
  IMPORT_MAX_BYTES: positiveNumber(256 * 1024 * 1024),
  /** Imports: memory the isolated process loading an imported file may use, in MiB. */
  IMPORT_MEMORY_MB: positiveNumber(1024),
  /** Imports: time the isolated load, smoke run and each evaluation batch may take, in seconds. */
  IMPORT_TIMEOUT_SECONDS: positiveNumber(30),
  /** Serving: sessions are evicted, least recently used first, above this many artifact bytes per worker. */
  MODEL_CACHE_BYTES: positiveNumber(512 * 1024 * 1024),
  /** Serving: coalesce concurrent requests for one model version into one `session.run` ("false" turns it off). */
  MICRO_BATCHING: z.preprocess(emptyAsUnset, z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).default('true')),
  /** Serving: most rows in one coalesced run. */
  BATCH_MAX_ROWS: positiveNumber(256),
  /** Serving: longest a request waits for others to join its batch, in ms (0: only those already waiting). */
  BATCH_MAX_DELAY_MS: z.preprocess(emptyAsUnset, z.coerce.number().min(0).default(0)),
  /** Serving: fraction of scored rows written to `inference-logs/` (what drift monitoring reads). */
  INFERENCE_LOG_SAMPLE_RATE: fraction(0.1),
  /** Serving: how often sampled rows are written out, in seconds. */
  INFERENCE_LOG_FLUSH_SECONDS: positiveNumber(10),
  /** Monitoring: when the evaluation timer runs (six-field NCRONTAB), and the schedule of every model without its own. */
  EVALUATION_SCHEDULE: evaluationScheduleSchema,
});

export type Settings = z.infer<typeof settingsSchema>;

/** The name of every app setting modelloop reads (what `infra/` and `local.settings.sample.json` must declare). */
export const SETTING_NAMES: readonly string[] = Object.keys(settingsSchema.shape);

/** How an SDK client signs in without a key: a managed identity (optionally user-assigned) or DefaultAzureCredential. */
export interface IdentitySettings {
  readonly kind: 'managedidentity' | 'default';
  readonly clientId?: string | undefined;
}

export type StorageSettings =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | { readonly kind: 'identity'; readonly blobServiceUri: string; readonly queueServiceUri: string; readonly identity: IdentitySettings };

export type RetrainTransport = 'storage' | 'servicebus';

/** Reads only RETRAIN_TRANSPORT: function registration needs it before the other settings are checked. */
export function retrainTransport(env: NodeJS.ProcessEnv = process.env): RetrainTransport {
  const parsed = retrainTransportSchema.safeParse(env.RETRAIN_TRANSPORT);
  if (!parsed.success) throw new ConfigError(`modelloop cannot start; RETRAIN_TRANSPORT must be "storage" or "servicebus", got "${env.RETRAIN_TRANSPORT}".`);
  return parsed.data;
}

/** Reads only EVALUATION_SCHEDULE: the timer's registration needs it before the other settings are checked. */
export function evaluationSchedule(env: NodeJS.ProcessEnv = process.env): string {
  const parsed = evaluationScheduleSchema.safeParse(env.EVALUATION_SCHEDULE);
  if (!parsed.success) throw new ConfigError(`modelloop cannot start; EVALUATION_SCHEDULE ${parsed.error.issues[0]?.message ?? 'is not valid'}.`);
  return parsed.data;
}

export interface Config {
  /** The storage connection string; empty when storage is identity-based (see `storage`). */
  readonly storageConnection: string;
  readonly storage: StorageSettings;
  readonly retrain: {
    readonly transport: RetrainTransport;
    /** Set when the transport is Service Bus. */
    readonly serviceBus?: { readonly fullyQualifiedNamespace: string; readonly identity: IdentitySettings } | undefined;
    readonly maxDeliveries: number;
  };
  readonly applicationInsightsConnectionString?: string | undefined;
  /** `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`: Entra ID sign-in for ingestion, when set. */
  readonly applicationInsightsAuthenticationString?: string | undefined;
  /** `key` for the emulator (or a key-based account); otherwise `identity`. */
  readonly cosmos: {
    readonly endpoint: string;
    readonly key?: string | undefined;
    readonly identity?: IdentitySettings | undefined;
    readonly database: string;
    readonly container: string;
  };
  readonly trainingTimeBudgetSeconds: number;
  readonly aliasCacheSeconds: number;
  readonly maxRequestBytes: number;
  readonly maxRequestRows: number;
  readonly maxDropBytes: number;
  readonly holdoutFraction: number;
  readonly retainUnaliasedVersions: number;
  readonly imports: { readonly maxBytes: number; readonly memoryBytes: number; readonly timeoutMs: number };
  readonly serving: {
    readonly modelCacheBytes: number;
    readonly microBatching: { readonly enabled: boolean; readonly maxRows: number; readonly maxDelayMs: number };
    readonly inferenceLog: { readonly sampleRate: number; readonly flushSeconds: number };
  };
  /** The schedule of models whose definition names none (and of the evaluation timer). */
  readonly evaluationSchedule: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Once per process: zod's compiled fast path would cost more to build than this one parse takes.
  const parsed = settingsSchema.safeParse(env, { jitless: true });
  // Settings that are required only in the absence of others: checked alongside the schema so one message names all.
  const set = (name: string): boolean => typeof env[name] === 'string' && env[name] !== '';
  const lines = parsed.success ? [] : parsed.error.issues.map((issue) => `  ${issue.path.join('.')} ${issue.message}`);
  if (!set('AzureWebJobsStorage') && !(set('AzureWebJobsStorage__blobServiceUri') && set('AzureWebJobsStorage__queueServiceUri'))) {
    lines.push('  AzureWebJobsStorage is required: a storage connection string, or AzureWebJobsStorage__blobServiceUri and __queueServiceUri for a managed identity');
  }
  if (!set('COSMOS_KEY') && !set('COSMOS_CREDENTIAL')) {
    lines.push('  COSMOS_KEY is required: the Cosmos DB key (locally, the emulator key), or COSMOS_CREDENTIAL=managedidentity to sign in without one');
  }
  if (retrainTransportSchema.safeParse(env.RETRAIN_TRANSPORT).data === 'servicebus' && !set('ServiceBus__fullyQualifiedNamespace')) {
    lines.push('  ServiceBus__fullyQualifiedNamespace is required when RETRAIN_TRANSPORT is "servicebus": the namespace host, <name>.servicebus.windows.net');
  }
  if (!parsed.success || lines.length > 0) {
    throw new ConfigError(`modelloop cannot start; fix these app settings (local.settings.json locally):\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  const identity = (kind: IdentitySettings['kind'] | undefined, clientId: string | undefined): IdentitySettings => ({ kind: kind ?? 'default', clientId });
  const storage: StorageSettings = s.AzureWebJobsStorage
    ? { kind: 'connectionString', connectionString: s.AzureWebJobsStorage }
    : {
        kind: 'identity',
        blobServiceUri: s.AzureWebJobsStorage__blobServiceUri ?? '',
        queueServiceUri: s.AzureWebJobsStorage__queueServiceUri ?? '',
        identity: identity(s.AzureWebJobsStorage__credential, s.AzureWebJobsStorage__clientId),
      };
  return {
    storageConnection: s.AzureWebJobsStorage ?? '',
    storage,
    retrain: {
      transport: s.RETRAIN_TRANSPORT,
      serviceBus:
        s.RETRAIN_TRANSPORT === 'servicebus' && s.ServiceBus__fullyQualifiedNamespace
          ? { fullyQualifiedNamespace: s.ServiceBus__fullyQualifiedNamespace, identity: identity(s.ServiceBus__credential, s.ServiceBus__clientId) }
          : undefined,
      maxDeliveries: s.RETRAIN_MAX_DELIVERIES,
    },
    applicationInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    applicationInsightsAuthenticationString: s.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
    cosmos: {
      endpoint: s.COSMOS_ENDPOINT,
      key: s.COSMOS_KEY,
      // A key wins: the emulator and key-based accounts keep working unchanged.
      identity: s.COSMOS_KEY ? undefined : identity(s.COSMOS_CREDENTIAL, s.COSMOS_CLIENT_ID),
      database: s.COSMOS_DATABASE,
      container: s.COSMOS_CONTAINER,
    },
    trainingTimeBudgetSeconds: s.TRAINING_TIME_BUDGET_SECONDS,
    aliasCacheSeconds: s.ALIAS_CACHE_SECONDS,
    maxRequestBytes: s.MAX_REQUEST_BYTES,
    maxRequestRows: s.MAX_REQUEST_ROWS,
    maxDropBytes: s.MAX_DROP_BYTES,
    holdoutFraction: s.HOLDOUT_FRACTION,
    retainUnaliasedVersions: s.RETAIN_UNALIASED_VERSIONS,
    imports: { maxBytes: s.IMPORT_MAX_BYTES, memoryBytes: s.IMPORT_MEMORY_MB * 1024 * 1024, timeoutMs: s.IMPORT_TIMEOUT_SECONDS * 1000 },
    serving: {
      modelCacheBytes: s.MODEL_CACHE_BYTES,
      microBatching: { enabled: s.MICRO_BATCHING === 'true', maxRows: s.BATCH_MAX_ROWS, maxDelayMs: s.BATCH_MAX_DELAY_MS },
      inferenceLog: { sampleRate: s.INFERENCE_LOG_SAMPLE_RATE, flushSeconds: s.INFERENCE_LOG_FLUSH_SECONDS },
    },
    evaluationSchedule: s.EVALUATION_SCHEDULE,
  };
}
