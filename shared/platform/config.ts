import { z } from 'zod';

/**
 * Every setting modelloop reads, in one place (t3-env style): read once, validated, and a start-up
 * failure names every missing or malformed setting. Empty strings count as unset.
 * `local.settings.sample.json` lists the same settings with their local defaults.
 */
const emptyAsUnset = (value: unknown): unknown => (value === '' ? undefined : value);
const positiveNumber = (fallback: number) => z.preprocess(emptyAsUnset, z.coerce.number().positive().default(fallback));
const fraction = (fallback: number) => z.preprocess(emptyAsUnset, z.coerce.number().min(0).max(1).default(fallback));

const settingsSchema = z.object({
  /** Storage account for data, models, reports and the retrain queue (Azurite locally). */
  AzureWebJobsStorage: z.preprocess(emptyAsUnset, z.string({ error: 'is required: a storage connection string' })),
  /** Cosmos DB account endpoint holding the registry. */
  COSMOS_ENDPOINT: z.preprocess(emptyAsUnset, z.url({ error: 'must be the Cosmos DB account endpoint URL' })),
  /** Cosmos DB key; only the local emulator key belongs here (Azure uses a managed identity). */
  COSMOS_KEY: z.preprocess(emptyAsUnset, z.string({ error: 'is required: the Cosmos DB key (locally, the emulator key)' })),
  COSMOS_DATABASE: z.preprocess(emptyAsUnset, z.string().default('modelloop')),
  COSMOS_CONTAINER: z.preprocess(emptyAsUnset, z.string().default('registry')),
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
});

export type Settings = z.infer<typeof settingsSchema>;

export interface Config {
  readonly storageConnection: string;
  readonly cosmos: { readonly endpoint: string; readonly key: string; readonly database: string; readonly container: string };
  readonly trainingTimeBudgetSeconds: number;
  readonly aliasCacheSeconds: number;
  readonly maxRequestBytes: number;
  readonly maxRequestRows: number;
  readonly maxDropBytes: number;
  readonly holdoutFraction: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')} ${issue.message}`);
    throw new ConfigError(`modelloop cannot start; fix these app settings (local.settings.json locally):\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  return {
    storageConnection: s.AzureWebJobsStorage,
    cosmos: { endpoint: s.COSMOS_ENDPOINT, key: s.COSMOS_KEY, database: s.COSMOS_DATABASE, container: s.COSMOS_CONTAINER },
    trainingTimeBudgetSeconds: s.TRAINING_TIME_BUDGET_SECONDS,
    aliasCacheSeconds: s.ALIAS_CACHE_SECONDS,
    maxRequestBytes: s.MAX_REQUEST_BYTES,
    maxRequestRows: s.MAX_REQUEST_ROWS,
    maxDropBytes: s.MAX_DROP_BYTES,
    holdoutFraction: s.HOLDOUT_FRACTION,
  };
}
