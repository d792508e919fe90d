import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { HostLogLevel } from './logger';

/** The queue settings of host.json `extensions.queues`, with the real host's defaults applied. */
export interface QueueSettings {
  /** @default 60_000 ("00:01:00") */
  readonly maxPollingIntervalMs: number;
  /** Delay before a failed message is visible again. @default 0 */
  readonly visibilityTimeoutMs: number;
  /** @default 16 */
  readonly batchSize: number;
  /** @default batchSize / 2 */
  readonly newBatchThreshold: number;
  /** @default 5 */
  readonly maxDequeueCount: number;
  /** @default "base64" */
  readonly messageEncoding: 'base64' | 'none';
}

/** What the local host takes from host.json (after `AzureFunctionsJobHost__*` overrides). */
export interface HostSettings {
  /** `extensions.http.routePrefix`, without slashes. @default "api" */
  readonly routePrefix: string;
  /** `functionTimeout`; undefined means unlimited ("-1"). @default 30 min, as on a dedicated plan */
  readonly functionTimeoutMs: number | undefined;
  readonly queues: QueueSettings;
  readonly blobs: {
    /** @default 8 × CPU count */
    readonly maxDegreeOfParallelism: number;
    /** Attempts before a blob goes to `webjobs-blobtrigger-poison`. @default queues.maxDequeueCount */
    readonly poisonBlobThreshold: number;
  };
  /** `logging.logLevel`: category prefix (or "default") → minimum level. */
  readonly logLevels: Readonly<Record<string, HostLogLevel | 'none'>>;
}

/** What Core Tools take from local.settings.json. */
export interface LocalSettings {
  readonly file: string;
  /** `Values`, as strings. Only the ones not already in the environment were applied. */
  readonly values: Readonly<Record<string, string>>;
  /** `Host.LocalHttpPort`. */
  readonly localHttpPort: number | undefined;
}

const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;
const TIMESPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/;

/**
 * Parses a .NET TimeSpan as host.json writes them ("hh:mm:ss", "d.hh:mm:ss", "hh:mm", "hh:mm:ss.fff",
 * or a whole number of days) into milliseconds; undefined when the text is not one.
 */
export function parseTimeSpan(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 86_400_000;
  const match = TIMESPAN.exec(trimmed);
  if (!match) return undefined;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0', fraction = ''] = match;
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds) > 59) return undefined;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  return ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + ms;
}

/** Formats milliseconds as "hh:mm:ss" for messages. */
export function formatTimeSpan(ms: number): string {
  const total = Math.round(ms / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`;
}

const timeSpan = z.string().transform((text, ctx) => {
  const ms = parseTimeSpan(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a TimeSpan such as "00:05:00", got "${text}"` });
    return z.NEVER;
  }
  return ms;
});
const functionTimeout = z.union([z.literal(-1), z.string()]).transform((value, ctx) => {
  if (value === -1 || value.trim() === '-1') return null;
  const ms = parseTimeSpan(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a TimeSpan such as "00:10:00", or "-1" for no limit, got "${value}"` });
    return z.NEVER;
  }
  return ms;
});
// Numbers may arrive as strings from AzureFunctionsJobHost__* environment overrides.
const count = z.coerce.number().int();
const logLevel = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none']));

const hostJsonSchema = z.looseObject({
  version: z.literal('2.0', { error: 'must be "2.0" (the schema of the Functions v2+ host)' }),
  functionTimeout: functionTimeout.optional(),
  extensions: z
    .looseObject({
      http: z.looseObject({ routePrefix: z.string().optional() }).optional(),
      queues: z
        .looseObject({
          maxPollingInterval: timeSpan.optional(),
          visibilityTimeout: timeSpan.optional(),
          batchSize: count.min(1).max(32).optional(),
          newBatchThreshold: count.min(0).optional(),
          maxDequeueCount: count.min(1).optional(),
          messageEncoding: z
            .string()
            .transform((s) => s.toLowerCase())
            .pipe(z.enum(['base64', 'none']))
            .optional(),
        })
        .optional(),
      blobs: z
        .looseObject({
          maxDegreeOfParallelism: count.min(1).optional(),
          poisonBlobThreshold: count.min(1).optional(),
        })
        .optional(),
    })
    .optional(),
  logging: z.looseObject({ logLevel: z.record(z.string(), logLevel).optional() }).optional(),
});

// host.json is read by .NET configuration, where keys are case-insensitive.
const CANONICAL_KEYS = new Map(
  [
    'version', 'functionTimeout', 'extensions', 'http', 'routePrefix', 'queues', 'maxPollingInterval',
    'visibilityTimeout', 'batchSize', 'newBatchThreshold', 'maxDequeueCount', 'messageEncoding', 'blobs',
    'maxDegreeOfParallelism', 'poisonBlobThreshold', 'logging', 'logLevel',
  ].map((key) => [key.toLowerCase(), key]),
);

function canonicalKeys(value: unknown, parentKey = ''): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || parentKey === 'logLevel') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => {
      const canonical = CANONICAL_KEYS.get(key.toLowerCase()) ?? key;
      return [canonical, canonicalKeys(inner, canonical)];
    }),
  );
}

/** Applies `AzureFunctionsJobHost__a__b=value` settings over host.json, as the real host does. */
function withEnvironmentOverrides(json: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const result = structuredClone(json);
  const prefix = 'azurefunctionsjobhost__';
  for (const [name, value] of Object.entries(env)) {
    if (!name.toLowerCase().startsWith(prefix) || value === undefined || value === '') continue;
    const path = name.slice(prefix.length).split('__');
    let node: Record<string, unknown> = result;
    for (const key of path.slice(0, -1)) {
      const existing = Object.keys(node).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key;
      const child = node[existing];
      node = (node[existing] = typeof child === 'object' && child !== null ? child : {}) as Record<string, unknown>;
    }
    const last = path[path.length - 1] as string;
    const existing = Object.keys(node).find((k) => k.toLowerCase() === last.toLowerCase()) ?? last;
    node[existing] = value;
  }
  return result;
}

/** Validates a host.json document and applies the defaults of the real host. */
export function parseHostJson(json: unknown, source = 'host.json', env: NodeJS.ProcessEnv = process.env): HostSettings {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${source} must contain a JSON object.`);
  }
  // Once per host: zod's compiled fast path would cost more to build than this one parse takes.
  const parsed = hostJsonSchema.safeParse(canonicalKeys(withEnvironmentOverrides(json as Record<string, unknown>, env)), { jitless: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`${source} is invalid:\n${problems.join('\n')}`);
  }
  const { functionTimeout, extensions, logging } = parsed.data;
  const queues = extensions?.queues ?? {};
  const batchSize = queues.batchSize ?? 16;
  const maxDequeueCount = queues.maxDequeueCount ?? 5;
  const blobs = extensions?.blobs ?? {};
  return {
    routePrefix: (extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    functionTimeoutMs: functionTimeout === undefined ? DEFAULT_FUNCTION_TIMEOUT_MS : (functionTimeout ?? undefined),
    queues: {
      maxPollingIntervalMs: queues.maxPollingInterval ?? 60_000,
      visibilityTimeoutMs: queues.visibilityTimeout ?? 0,
      batchSize,
      newBatchThreshold: queues.newBatchThreshold ?? Math.floor(batchSize / 2),
      maxDequeueCount,
      messageEncoding: queues.messageEncoding ?? 'base64',
    },
    blobs: {
      maxDegreeOfParallelism: blobs.maxDegreeOfParallelism ?? 8 * availableParallelism(),
      poisonBlobThreshold: blobs.poisonBlobThreshold ?? maxDequeueCount,
    },
    logLevels: logging?.logLevel ?? {},
  };
}

/** Reads `<scriptRoot>/host.json`; a missing file is an error, as in Core Tools. */
export function readHostJson(scriptRoot: string, env: NodeJS.ProcessEnv = process.env): HostSettings {
  const file = join(scriptRoot, 'host.json');
  if (!existsSync(file)) {
    throw new Error(`No host.json in ${scriptRoot}. The local host needs the same host.json that is deployed to Azure.`);
  }
  return parseHostJson(readJson(file), file, env);
}

const localSettingsSchema = z.looseObject({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  Host: z.looseObject({ LocalHttpPort: z.coerce.number().int().min(0).max(65_535).optional() }).optional(),
});

/**
 * Reads `<scriptRoot>/local.settings.json` if present, as Core Tools do: every `Values` entry is copied into
 * `env` unless that variable is already set (empty counts as unset). Returns undefined without the file.
 */
export function applyLocalSettings(scriptRoot: string, env: NodeJS.ProcessEnv = process.env): LocalSettings | undefined {
  const file = join(scriptRoot, 'local.settings.json');
  if (!existsSync(file)) return undefined;
  const parsed = localSettingsSchema.safeParse(readJson(file), { jitless: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`${file} is invalid:\n${problems.join('\n')}`);
  }
  if (parsed.data.IsEncrypted) {
    throw new Error(`${file} has "IsEncrypted": true; the local host reads plain values only. Store them unencrypted locally.`);
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.data.Values ?? {})) {
    const text = value === null ? '' : String(value);
    values[name] = text;
    if (env[name] === undefined || env[name] === '') env[name] = text;
  }
  return { file, values, localHttpPort: parsed.data.Host?.LocalHttpPort };
}

function readJson(file: string): unknown {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}
