import { Worker } from 'node:worker_threads';
import { compiledWorker } from './worker-script';

/** Longest a process's exit waits for a warm-up still inside ONNX Runtime. */
const EXIT_WAIT_MS = 2000;

let started = false;

/**
 * Gives the process's one-time set-ups a head start on the other core, off a cold instance's first
 * request. ICU (behind `Intl`, which cron-parser's dates use when the host checks its timer
 * schedules and the settings their evaluation schedule) costs about 25 ms on its first use; ONNX
 * Runtime's first session costs about 100 ms more than any later one (its environment and kernels
 * are set up once per process). `start-warm-up.ts` calls this, and `services.ts` imports it before
 * anything else (the first function file a host loads imports `services.ts`, and the SDKs load after
 * it): a worker thread then formats a date in UTC, creates and runs a session on
 * the smallest exported pipeline (`warm-up-worker.ts`) and exits, while the main thread is still
 * loading the app. Both caches are the process's, so the main thread finds them set up. Measured in
 * docs/benchmarks.md ("Serving: cold start, measured alone"). Once per process: returns the worker
 * the first time, else undefined. A failure loses only the head start.
 *
 * The worker never keeps the process alive, but a process must not end while the worker is inside
 * ONNX Runtime: onnxruntime-node aborts the whole process ("terminate called after throwing an
 * instance of 'Napi::Error'") when a thread is torn down in the middle of one of its calls. So the
 * worker holds a flag while it works, and an exit waits (up to EXIT_WAIT_MS) for the flag to drop.
 */
export function warmUpInBackground(): Worker | undefined {
  if (started) return undefined;
  started = true;
  const script = compiledWorker(__dirname, 'warm-up-worker.js');
  if (!script) return undefined;
  const working = new Int32Array(new SharedArrayBuffer(4));
  working[0] = 1;
  try {
    // Never writes to the process's output: a head start is not worth a log line.
    const worker = new Worker(script, { workerData: working, stdout: true, stderr: true });
    worker.unref();
    const finished = (): void => void Atomics.store(working, 0, 0);
    worker.on('error', finished);
    worker.on('exit', finished);
    process.once('exit', () => void Atomics.wait(working, 0, 1, EXIT_WAIT_MS));
    return worker;
  } catch {
    // Out of threads or memory: the first uses pay for themselves, as they would without this.
    return undefined;
  }
}
