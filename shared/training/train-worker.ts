import { parentPort, workerData } from 'node:worker_threads';
import { ensureError } from '../platform/errors';
import { trainModel, TrainingError, type TrainingJob } from './train-model';

/**
 * Worker-thread entry: trains one job and posts progress and the result back. Training is
 * synchronous number crunching; running it here keeps the host's event loop free for HTTP
 * requests and queue lock renewal.
 */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly message: string }
  | { readonly type: 'done'; readonly result: ReturnType<typeof trainModel> }
  | { readonly type: 'failed'; readonly message: string };

const port = parentPort;
if (port) {
  try {
    const { job, stop } = workerData as { job: TrainingJob; stop: Int32Array };
    const result = trainModel(job, {
      progress: (message) => port.postMessage({ type: 'progress', message } satisfies WorkerMessage),
      cancelled: () => Atomics.load(stop, 0) === 1,
    });
    port.postMessage({ type: 'done', result } satisfies WorkerMessage, [result.onnx.buffer as ArrayBuffer]);
  } catch (err) {
    // Training reads no I/O, so any failure here repeats on retry: report it, do not crash the thread.
    const error = ensureError(err);
    const message = err instanceof TrainingError ? error.message : `${error.name}: ${error.message}`;
    port.postMessage({ type: 'failed', message } satisfies WorkerMessage);
  }
}
