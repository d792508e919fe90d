import { Worker } from 'node:worker_threads';
import { compiledWorker } from '../platform/worker-script';

/** Longest a process's exit waits for a warm-up still inside ONNX Runtime. */
const EXIT_WAIT_MS = 2000;

let started = false;

/**
 * Gives ONNX Runtime's one-time start-up a head start on the other core. The first session a
 * process creates costs about 100 ms more than any later one (ONNX Runtime sets up its environment
 * and kernels once per process), and on a cold instance that first session is on the first
 * request's path. `shared/platform/services.ts` calls this when it loads (the first function file a
 * host loads imports it): a worker thread then creates and runs a session on a tiny tree ensemble
 * (`onnx-warm-up-worker.ts`) while the main thread is still loading the app and connecting to
 * storage, and exits. Measured in docs/benchmarks.md ("Serving: cold start, measured alone").
 * Once per process: returns the worker the first time, else undefined. A failure loses only the
 * head start.
 *
 * The worker never keeps the process alive, but a process must not end while the worker is inside
 * ONNX Runtime: onnxruntime-node aborts the whole process ("terminate called after throwing an
 * instance of 'Napi::Error'") when a thread is torn down in the middle of one of its calls. So the
 * worker holds a flag while it works, and an exit waits (up to EXIT_WAIT_MS) for the flag to drop.
 */
export function warmUpOnnxRuntime(): Worker | undefined {
  if (started) return undefined;
  started = true;
  const script = compiledWorker(__dirname, 'onnx-warm-up-worker.js');
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
    // Out of threads or memory: the first session pays for itself, as it would without this.
    return undefined;
  }
}
