import { Worker, parentPort, workerData } from 'node:worker_threads';
import { compiledWorker } from '../platform/worker-script';
import { buildHoldout, type Holdout, type HoldoutSource } from './holdout';

/**
 * Rebuilding the evaluation split parses every drop in the training window: seconds of
 * synchronous work for large data. It runs in a worker thread, as training does, so HTTP and
 * queue lock renewal keep their event loop.
 */
export function buildHoldoutInWorker(source: HoldoutSource): Promise<Holdout> {
  const script = workerScript();
  if (!script) return Promise.resolve(buildHoldout(source));
  return new Promise<Holdout>((resolve, reject) => {
    const worker = new Worker(script, { workerData: source });
    worker.once('message', (message: { holdout?: Holdout; error?: string }) => {
      void worker.terminate();
      if (message.holdout) resolve(message.holdout);
      else reject(new Error(message.error ?? 'the evaluation split could not be rebuilt'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the evaluation-split worker exited with code ${code}`)));
  });
}

/** The compiled copy of this file; under vitest (TypeScript sources) the one `npm run build` makes. */
function workerScript(): string | undefined {
  return compiledWorker(__dirname, 'holdout-worker.js');
}

if (parentPort && (workerData as HoldoutSource | undefined)?.contract) {
  try {
    parentPort.postMessage({ holdout: buildHoldout(workerData as HoldoutSource) });
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}
