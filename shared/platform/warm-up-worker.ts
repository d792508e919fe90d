import { workerData } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import {
  encodeModel,
  floatsAttribute,
  intAttribute,
  intsAttribute,
  IR_VERSION,
  ONNX_DOMAIN,
  ONNX_ML_DOMAIN,
  stringAttribute,
  stringsAttribute,
  TensorDataType,
  tensorValueInfo,
} from '../onnx/onnx-model';
import { sessionOptions } from '../serving/session-options';

/**
 * The worker thread of `warmUpInBackground`: a date formatted in UTC as luxon formats it (ICU first,
 * as it is the quicker and the earlier needed), then one session and one run on the smallest model
 * shaped like an exported pipeline (two named inputs, Concat, a one-split TreeEnsembleClassifier),
 * with the options the model cache uses; then it exits. `workerData` is the flag it holds while it works (1, set
 * by the main thread before it started): it drops it, and wakes a waiting exit, when ONNX Runtime is done.
 */
const model = encodeModel({
  irVersion: IR_VERSION,
  opsetImport: [
    { domain: ONNX_DOMAIN, version: 17 },
    { domain: ONNX_ML_DOMAIN, version: 3 },
  ],
  producerName: 'modelloop-warm-up',
  graph: {
    name: 'warm-up',
    node: [
      { opType: 'Concat', input: ['a', 'b'], output: ['x'], attribute: [intAttribute('axis', 1)] },
      {
        opType: 'TreeEnsembleClassifier',
        domain: ONNX_ML_DOMAIN,
        input: ['x'],
        output: ['label', 'probabilities'],
        attribute: [
          intsAttribute('nodes_treeids', [0, 0, 0]),
          intsAttribute('nodes_nodeids', [0, 1, 2]),
          intsAttribute('nodes_featureids', [0, 0, 0]),
          floatsAttribute('nodes_values', [0.5, 0, 0]),
          stringsAttribute('nodes_modes', ['BRANCH_LEQ', 'LEAF', 'LEAF']),
          intsAttribute('nodes_truenodeids', [1, 0, 0]),
          intsAttribute('nodes_falsenodeids', [2, 0, 0]),
          intsAttribute('class_treeids', [0, 0]),
          intsAttribute('class_nodeids', [1, 2]),
          intsAttribute('class_ids', [1, 1]),
          floatsAttribute('class_weights', [0.25, -0.25]),
          intsAttribute('classlabels_int64s', [0, 1]),
          stringAttribute('post_transform', 'LOGISTIC'),
        ],
      },
    ],
    input: ['a', 'b'].map((name) => tensorValueInfo(name, TensorDataType.FLOAT, ['N', 1])),
    output: [tensorValueInfo('label', TensorDataType.INT64, ['N']), tensorValueInfo('probabilities', TensorDataType.FLOAT, ['N', 2])],
  },
});

async function warmUp(): Promise<void> {
  new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date());
  // Loaded here, not at the top, so that ICU's set-up does not wait for it.
  const ort: typeof Ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(model, sessionOptions());
  const one = (): Ort.Tensor => new ort.Tensor('float32', Float32Array.of(1), [1, 1]);
  await session.run({ a: one(), b: one() });
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
