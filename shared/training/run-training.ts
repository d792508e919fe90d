import { Worker } from 'node:worker_threads';
import { compiledWorker } from '../platform/worker-script';
import { TrainingError, type TrainingJob, type TrainingResult } from './train-model';
import type { WorkerMessage } from './train-worker';

export interface RunTrainingOptions {
  /** The run is stopped (the worker terminated) after this long. */
  readonly timeBudgetMs: number;
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/** The compiled worker script; under vitest the sources are TypeScript, so use the copy `npm test` builds. */
function workerScript(): string {
  const script = compiledWorker(__dirname, 'train-worker.js');
  if (!script) throw new Error('The training worker (train-worker.js) is not built; run "npm run build".');
  return script;
}

/**
 * Runs a training job in a worker thread with a time budget and cancellation. Rejects with a
 * `TrainingError` when training itself fails (bad data, out of time): retrying will not help.
 */
export function runTraining(job: TrainingJob, options: RunTrainingOptions): Promise<TrainingResult> {
  // Copy each drop into its own buffer so it can be transferred, not cloned, into the worker.
  const datasets = job.datasets.map((d) => ({ ...d, bytes: new Uint8Array(d.bytes) }));
  // Set to 1 to ask the trainer to stop at its next round or iteration; termination follows anyway.
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(workerScript(), {
    workerData: { job: { ...job, datasets }, stop },
    transferList: datasets.map((d) => d.bytes.buffer as ArrayBuffer),
  });
  return new Promise<TrainingResult>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, result?: TrainingResult): void => {
      if (settled) return;
      settled = true;
      Atomics.store(stop, 0, 1);
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (error) reject(error);
      else resolve(result!);
    };
    const timer = setTimeout(
      () => finish(new TrainingError(`Training ran out of its time budget of ${Math.round(options.timeBudgetMs / 1000)} s and was stopped.`)),
      options.timeBudgetMs,
    );
    const onAbort = (): void => finish(new TrainingError('Training was cancelled.'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') options.onProgress?.(message.message);
      else if (message.type === 'done') finish(undefined, message.result);
      else finish(new TrainingError(message.message));
    });
    worker.on('error', (err) => finish(err));
    worker.on('exit', (code) => finish(new Error(`The training worker exited with code ${code} before it finished.`)));
  });
}
