import type * as ort from 'onnxruntime-node';

/** Session options for a version; the warm-up and the benchmark's baseline use the same. */
export function sessionOptions(intraOpThreads = 1): ort.InferenceSession.SessionOptions {
  // A run is synchronous on the event loop; with spare threads ONNX Runtime spins them and competes with Node for the cores.
  return { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: intraOpThreads, interOpNumThreads: 1 };
}
