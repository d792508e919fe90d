import { exportPipeline } from '../../../../shared/onnx/export-pipeline';
import { encodeModel, floatTensor, int64Tensor, tensorValueInfo, TensorDataType } from '../../../../shared/onnx/onnx-model';
import { ProtobufWriter } from '../../../../shared/onnx/protobuf-writer';

/**
 * ONNX files the import tests build for themselves: well-behaved classifiers on the columns of
 * `separableCsv` (x1, x2, color), and hostile files written field by field.
 */

/** A linear classifier on x1, x2 and color; `weightOn` picks the feature that decides the class. */
export function linearClassifier(weightOn: 'x1' | 'x2', producer = 'sklearn-onnx'): Uint8Array {
  const coefficients = weightOn === 'x1' ? [-2, 0, 0, 0, 2, 0, 0, 0] : [0, -0.4, 0, 0, 0, 0.4, 0, 0];
  const intercepts = weightOn === 'x1' ? [0, 0] : [2, -2];
  return exportPipeline({
    name: 'imported',
    description: 'a model trained elsewhere',
    features: [
      { kind: 'numeric', name: 'x1', imputeValue: 0, offset: 0, scale: 1 },
      { kind: 'numeric', name: 'x2', imputeValue: 0, offset: 0, scale: 1 },
      { kind: 'category', name: 'color', categories: ['blue', 'red'] },
    ],
    model: { kind: 'linear-classifier', labels: ['no', 'yes'], coefficients, intercepts },
    metadata: { producer },
  });
}

/** Y = X + W, with W given as raw protobuf so the tests can make it hostile. */
function addModel(tensor: (w: ProtobufWriter) => void, options: { domain?: string; opset?: number } = {}): Uint8Array {
  const w = new ProtobufWriter();
  w.varint(1, 8);
  w.string(2, 'hostile');
  const graph = w.beginMessage(7);
  const node = w.beginMessage(1);
  w.string(1, 'X').string(1, 'W').string(2, 'Y').string(4, 'Add');
  if (options.domain) w.string(7, options.domain);
  w.endMessage(node);
  w.string(2, 'g');
  const init = w.beginMessage(5);
  tensor(w);
  w.endMessage(init);
  for (const [field, name] of [[11, 'X'], [12, 'Y']] as const) {
    const info = w.beginMessage(field);
    w.string(1, name);
    const type = w.beginMessage(2);
    const t = w.beginMessage(1);
    w.varint(1, 1);
    const shape = w.beginMessage(2);
    const d0 = w.beginMessage(1);
    w.string(2, 'N');
    w.endMessage(d0);
    const d1 = w.beginMessage(1);
    w.varint(1, 1);
    w.endMessage(d1);
    w.endMessage(shape);
    w.endMessage(t);
    w.endMessage(type);
    w.endMessage(info);
  }
  w.endMessage(graph);
  const opset = w.beginMessage(8);
  w.string(1, '').varint(2, options.opset ?? 17);
  w.endMessage(opset);
  if (options.domain) {
    const custom = w.beginMessage(8);
    w.string(1, options.domain).varint(2, 1);
    w.endMessage(custom);
  }
  return w.finish();
}

/** A harmless regression-shaped model: Y = X + 1. */
export function plainAdd(options: { domain?: string; opset?: number } = {}): Uint8Array {
  return addModel((w) => {
    w.varint(1, 1).varint(2, 1).string(8, 'W');
    w.bytes(9, new Uint8Array(new Float32Array([1]).buffer));
  }, options);
}

/** W's data lives in "a file next to the model" — any path the loader would open. */
export function externalData(): Uint8Array {
  return addModel((w) => {
    w.varint(1, 1).varint(2, 1).string(8, 'W');
    const entry = w.beginMessage(13);
    w.string(1, 'location').string(2, '../../../../etc/shadow');
    w.endMessage(entry);
    w.varint(14, 1);
  });
}

/** W declares 10^12 floats (4 TB) and carries 4 bytes. */
export function hugeDeclaredTensor(): Uint8Array {
  return addModel((w) => {
    w.varint(1, 1_000_000).varint(1, 1_000_000).varint(2, 1).string(8, 'W');
    w.bytes(9, new Uint8Array(4));
  });
}

/**
 * Statically innocent, but running it allocates 20000 × 20000 floats (1.6 GB): only the
 * isolated process's memory bound stops it.
 */
export function memoryBomb(): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'bomb',
      node: [
        { opType: 'ConstantOfShape', input: ['shape'], output: ['C'], attribute: [{ name: 'value', type: 'TENSOR', value: floatTensor('v', [1], [1]) }] },
        { opType: 'ReduceSum', input: ['C'], output: ['S'], attribute: [{ name: 'keepdims', type: 'INT', value: 0 }] },
        { opType: 'Add', input: ['X', 'S'], output: ['Y'] },
      ],
      initializer: [int64Tensor('shape', [2], [20_000, 20_000])],
      input: [tensorValueInfo('X', TensorDataType.FLOAT, ['N', 1])],
      output: [tensorValueInfo('Y', TensorDataType.FLOAT, ['N', 1])],
    },
  });
}
