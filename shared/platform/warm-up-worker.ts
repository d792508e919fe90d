import { workerData } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { exportPipeline } from '../onnx/export-pipeline';
import type { PipelineSpec } from '../onnx/pipeline-spec';
import { sessionOptions } from '../serving/session-options';

/**
 * The worker thread of `warmUpInBackground`: a date formatted in UTC as luxon formats it (ICU first,
 * as it is the quicker and the earlier needed), then one session and one run on the smallest
 * pipeline the product's exporter makes (a number and a category in, one split of one tree), with
 * the options the model cache uses; then it exits. `workerData` is the flag it holds while it works
 * (1, set by the main thread before it started): it drops it, and wakes a waiting exit, when ONNX
 * Runtime is done.
 */
const spec: PipelineSpec = {
  name: 'warm-up',
  features: [
    { kind: 'numeric', name: 'x', imputeValue: 0, offset: 0, scale: 1 },
    { kind: 'category', name: 'c', categories: ['a'] },
  ],
  model: {
    kind: 'tree-ensemble-classifier',
    labels: [0, 1],
    baseScores: [0],
    trees: [
      {
        target: 0,
        feature: Int32Array.of(0, -1, -1),
        threshold: Float32Array.of(0.5, 0, 0),
        categorical: Uint8Array.of(0, 0, 0),
        left: Int32Array.of(1, -1, -1),
        right: Int32Array.of(2, -1, -1),
        missingLeft: Uint8Array.of(1, 0, 0),
        value: Float32Array.of(0, -0.25, 0.25),
      },
    ],
  },
};

async function warmUp(): Promise<void> {
  new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date());
  // Loaded here, not at the top, so that ICU's set-up does not wait for it.
  const ort: typeof Ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(exportPipeline(spec), sessionOptions());
  await session.run({ x: new ort.Tensor('float32', Float32Array.of(1), [1, 1]), c: new ort.Tensor('string', ['a'], [1, 1]) });
  await session.release();
}

function finish(code: number): void {
  const working = workerData as Int32Array;
  Atomics.store(working, 0, 0);
  Atomics.notify(working, 0);
  process.exit(code);
}

// The exit code says whether it worked (1: the model or ONNX Runtime failed); the caller only lets it go.
warmUp().then(
  () => finish(0),
  () => finish(1),
);
