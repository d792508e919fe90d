import { performance } from 'node:perf_hooks';
import { InferenceLog } from '../monitoring/inference-log';
import { consoleLogger } from '../platform/logger';
import type { Services } from '../platform/services';
import type { Telemetry } from '../platform/telemetry';
import { MicroBatcher } from './micro-batcher';
import type { ModelCache } from './model-cache';
import type { Registry } from '../registry/registry';

/** What the scoring functions need beyond the shared services: the batcher and the inference log. */
export interface Scoring {
  readonly models: ModelCache;
  readonly registry: Registry;
  readonly maxRows: number;
  readonly batcher: MicroBatcher;
  readonly inferenceLog: InferenceLog;
  readonly telemetry: Telemetry;
}

/** The scoring routes, as `modelloop.scoring.latency_ms` names them in its `route` attribute. */
export type ScoringRoute = 'predict' | 'v2-infer';

const built = new WeakMap<Services, Scoring>();
// The inference logs built so far, so that a stopping host can flush them without building anything.
const inferenceLogs = new Set<InferenceLog>();

/** The worker's scoring parts, built once per services from the serving settings. */
export function scoringOf(services: Services): Scoring {
  let scoring = built.get(services);
  if (!scoring) {
    const { serving } = services.config;
    scoring = {
      models: services.models,
      registry: services.registry,
      maxRows: services.config.maxRequestRows,
      batcher: new MicroBatcher(serving.microBatching),
      inferenceLog: new InferenceLog({
        blobs: services.blobs,
        log: consoleLogger,
        sampleRate: serving.inferenceLog.sampleRate,
        flushIntervalMs: serving.inferenceLog.flushSeconds * 1000,
      }),
      telemetry: services.telemetry,
    };
    inferenceLogs.add(scoring.inferenceLog);
    built.set(services, scoring);
  }
  return scoring;
}

/**
 * Records one answered scoring call in `modelloop.scoring.latency_ms`, from `startedAt`
 * (`performance.now()` when the request arrived) to now. One in-memory record per request,
 * attributed by model, version and route only: no per-row attributes.
 */
export function recordScoringLatency(scoring: Scoring, route: ScoringRoute, model: string, version: number | string, startedAt: number): void {
  scoring.telemetry.metric('modelloop.scoring.latency_ms', performance.now() - startedAt, { model, version: String(version), route });
}

/** Writes every sampled row still buffered: the host's appTerminate hook calls this. */
export async function flushInferenceLogs(): Promise<void> {
  await Promise.all([...inferenceLogs].map((log) => log.flush()));
}
