import type { TokenCredential } from '@azure/identity';
import type { Histogram } from '@opentelemetry/api';
import type { Logger as OtelLogger } from '@opentelemetry/api-logs';
import { consoleLogger, type Logger } from './logger';

/** The product events operators chart and alert on. */
export type TelemetryEvent =
  /** A training run ended: `model`, `status` (registered / failed / skipped), `version`, `seconds`. */
  | 'TrainingFinished'
  /** An alias moved to a version: `model`, `alias`, `version`, `from`, `by`. */
  | 'VersionPromoted'
  /** An operator removed an alias (a request naming it is refused from then on): `model`, `alias`, `from`, `by`. */
  | 'AliasRemoved'
  /** Drift or decay crossed its threshold: `model`, `version`, `metric`, `value`, `threshold`. */
  | 'DriftAlert'
  /** A retrain request failed its last delivery and is parked: `model`, `key`, `reason`. */
  | 'RetrainDeadLettered';

/** The product metrics, with their units in the name. */
export type TelemetryMetric =
  /** One scoring call, end to end, in milliseconds. */
  | 'modelloop.scoring.latency_ms'
  /** Rows checked against a data contract by one drop. */
  | 'modelloop.rows.validated'
  /** One training run, wall clock, in seconds. */
  | 'modelloop.training.seconds';

export type TelemetryProperties = Readonly<Record<string, string | number | boolean | undefined>>;

/** Where events and metrics go: Azure Monitor when configured, readable log lines otherwise. */
export interface Telemetry {
  event(name: TelemetryEvent, properties?: TelemetryProperties): void;
  metric(name: TelemetryMetric, value: number, attributes?: Readonly<Record<string, string>>): void;
}

/** Count, sum, min and max of one metric, as the local sink keeps it. */
export interface MetricSummary {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Local telemetry: each event is one `key=value` line a person can read and a tool can parse;
 * metrics are summarised in memory (a line per scoring call would drown the log).
 */
export class LogTelemetry implements Telemetry {
  readonly #log: Logger;
  readonly #metrics = new Map<string, MetricSummary>();

  constructor(log: Logger = consoleLogger) {
    this.#log = log;
  }

  event(name: TelemetryEvent, properties: TelemetryProperties = {}): void {
    this.#log.info(`[event] ${name}${formatPairs(properties)}`);
  }

  metric(name: TelemetryMetric, value: number, attributes: Readonly<Record<string, string>> = {}): void {
    if (!Number.isFinite(value)) return;
    const key = name + formatPairs(attributes);
    const summary = this.#metrics.get(key);
    if (!summary) this.#metrics.set(key, { count: 1, sum: value, min: value, max: value });
    else {
      summary.count++;
      summary.sum += value;
      summary.min = Math.min(summary.min, value);
      summary.max = Math.max(summary.max, value);
    }
  }

  /** The metrics seen so far, keyed by `name key=value…`. */
  summaries(): ReadonlyMap<string, Readonly<MetricSummary>> {
    return this.#metrics;
  }
}

/**
 * Azure Monitor through OpenTelemetry: events become Application Insights custom events
 * (log records carrying `microsoft.custom_event.name`), metrics become histograms.
 */
class AzureMonitorTelemetry implements Telemetry {
  // Required here rather than at the top, so that runs without Application Insights never load them.
  readonly #metrics = (require('@opentelemetry/api') as typeof import('@opentelemetry/api')).metrics;
  readonly #logger: OtelLogger = (require('@opentelemetry/api-logs') as typeof import('@opentelemetry/api-logs')).logs.getLogger('modelloop');
  readonly #histograms = new Map<TelemetryMetric, Histogram>();

  event(name: TelemetryEvent, properties: TelemetryProperties = {}): void {
    const attributes: Record<string, string | number | boolean> = { 'microsoft.custom_event.name': name };
    for (const [key, value] of Object.entries(properties)) if (value !== undefined) attributes[key] = value;
    this.#logger.emit({ body: name, attributes });
  }

  metric(name: TelemetryMetric, value: number, attributes: Readonly<Record<string, string>> = {}): void {
    let histogram = this.#histograms.get(name);
    if (!histogram) {
      histogram = this.#metrics.getMeter('modelloop').createHistogram(name);
      this.#histograms.set(name, histogram);
    }
    histogram.record(value, attributes);
  }
}

let current: Telemetry | undefined;

/** Where telemetry goes: Application Insights, and how to sign in to its ingestion. */
export interface TelemetrySettings {
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING`; unset means readable log lines. */
  readonly connectionString?: string | undefined;
  /**
   * `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, as the Functions host reads it for its own logs:
   * `Authorization=AAD` (system-assigned identity) or `Authorization=AAD;ClientId=<id>` (user-assigned).
   * Set when the Application Insights resource refuses local (key) authentication.
   */
  readonly authenticationString?: string | undefined;
}

/**
 * Starts telemetry once per process: Azure Monitor when an Application Insights connection string
 * is given (traces of outgoing calls, custom events, metrics), signed in with the managed identity
 * when the authentication string asks for Entra ID; readable log lines otherwise.
 * Later calls return the first one's sink.
 */
export function startTelemetry(settings: TelemetrySettings, log: Logger = consoleLogger): Telemetry {
  if (current) return current;
  if (settings.connectionString) {
    // Loaded only when Application Insights is configured: it is the heaviest module of the app, and
    // local runs and cold starts without it should not pay for it.
    const { useAzureMonitor } = require('@azure/monitor-opentelemetry') as typeof import('@azure/monitor-opentelemetry');
    const credential = ingestionCredential(settings.authenticationString);
    useAzureMonitor({ azureMonitorExporterOptions: { connectionString: settings.connectionString, ...(credential ? { credential } : {}) } });
    current = new AzureMonitorTelemetry();
  } else {
    current = new LogTelemetry(log);
  }
  return current;
}

/**
 * The Entra ID credential for Application Insights ingestion that an authentication string asks for,
 * or undefined (ingestion by the connection string's key). A string it cannot read throws, so a typo
 * fails at start instead of every export being refused.
 */
export function ingestionCredential(authenticationString: string | undefined): TokenCredential | undefined {
  if (!authenticationString) return undefined;
  const pairs = new Map<string, string>();
  for (const part of authenticationString.split(';')) {
    const at = part.indexOf('=');
    if (part.trim() === '') continue;
    if (at < 0) throw new Error(`APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "${part}" is not key=value; expected "Authorization=AAD;ClientId=<client id>".`);
    pairs.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (pairs.get('authorization')?.toUpperCase() !== 'AAD') {
    throw new Error('APPLICATIONINSIGHTS_AUTHENTICATION_STRING must start with "Authorization=AAD" (optionally ";ClientId=<client id>" for a user-assigned identity).');
  }
  const clientId = pairs.get('clientid');
  const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
  return new ManagedIdentityCredential(clientId ? { clientId } : {});
}

/** The process's telemetry; log lines until `startTelemetry` chose otherwise. */
export function telemetry(): Telemetry {
  return (current ??= new LogTelemetry());
}

function formatPairs(pairs: Readonly<Record<string, unknown>>): string {
  let out = '';
  for (const [key, value] of Object.entries(pairs)) {
    if (value === undefined) continue;
    const text = String(value);
    // Quote only what would not read back as one token.
    out += ` ${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
  }
  return out;
}
