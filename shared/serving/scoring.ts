import { InferenceLog } from '../monitoring/inference-log';
import { consoleLogger } from '../platform/logger';
import type { Services } from '../platform/services';
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
}

const built = new WeakMap<Services, Scoring>();

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
    };
    built.set(services, scoring);
  }
  return scoring;
}
