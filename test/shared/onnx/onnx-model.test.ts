import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  encodeModel,
  floatTensor,
  int64Tensor,
  intAttribute,
  IR_VERSION,
  ONNX_DOMAIN,
  TensorDataType,
  tensorAttribute,
  tensorValueInfo,
  type ModelProto,
} from '../../../shared/onnx/onnx-model';
import { all, bytesOf, int64Of, only, stringOf } from './wire-reader';

// Y = Concat(Reshape((X + B) * C, [-1, 1]), axis=-1) of itself; K is a constant int64 output.
function smallModel(): ModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: ONNX_DOMAIN, version: 17 }],
    producerName: 'modelloop-test',
    docString: 'model doc',
    graph: {
      name: 'small',
      docString: 'graph doc',
      input: [tensorValueInfo('X', TensorDataType.FLOAT, ['N', 2])],
      output: [
        tensorValueInfo('Y', TensorDataType.FLOAT, ['rows', 2]),
        // No shape: a tensor of unknown rank.
        tensorValueInfo('K', TensorDataType.INT64),
      ],
      initializer: [floatTensor('B', [2], [10, 20]), int64Tensor('shape', [2], [-1, 1])],
      node: [
        { opType: 'Add', name: 'add', input: ['X', 'B'], output: ['S'] },
        {
          opType: 'Constant',
          name: 'c',
          input: [],
          output: ['C'],
          attribute: [tensorAttribute('value', floatTensor('c_value', [1, 2], new Float32Array([2, -1])))],
        },
        { opType: 'Mul', name: 'mul', input: ['S', 'C'], output: ['M'] },
        { opType: 'Reshape', name: 'reshape', input: ['M', 'shape'], output: ['R'] },
        { opType: 'Concat', name: 'concat', input: ['R', 'R'], output: ['Y'], attribute: [intAttribute('axis', -1)] },
        {
          opType: 'Constant',
          name: 'k',
          input: [],
          output: ['K'],
          attribute: [tensorAttribute('value', int64Tensor('k_value', [3], [-5, 2 ** 40, 0]))],
        },
      ],
    },
    metadataProps: { owner: 'team', 'key with spaces': 'värde' },
  };
}

describe('encodeModel', () => {
  it('produces a model ONNX Runtime loads and runs: initializers, tensor attributes, negative ints', async () => {
    const session = await ort.InferenceSession.create(encodeModel(smallModel()));
    expect(session.inputNames).toEqual(['X']);
    expect(session.outputNames).toEqual(['Y', 'K']);
    const out = await session.run({ X: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [2, 2]) });
    // (X + [10, 20]) * [2, -1] = [[22, -22], [26, -24]], reshaped to [4, 1], concatenated with itself.
    expect(out.Y?.dims).toEqual([4, 2]);
    expect(Array.from(out.Y?.data as Float32Array)).toEqual([22, 22, -22, -22, 26, 26, -24, -24]);
    expect(Array.from(out.K?.data as BigInt64Array)).toEqual([-5n, 2n ** 40n, 0n]);
  });

  it('writes shapes with fixed and symbolic dimensions as ONNX Runtime reports them', async () => {
    const session = await ort.InferenceSession.create(encodeModel(smallModel()));
    expect(session.inputMetadata).toEqual([{ name: 'X', isTensor: true, type: 'float32', shape: ['N', 2] }]);
    expect(session.outputMetadata[0]).toEqual({ name: 'Y', isTensor: true, type: 'float32', shape: ['rows', 2] });
    expect(session.outputMetadata[1]).toMatchObject({ name: 'K', isTensor: true, type: 'int64' });
  });

  it('writes the model header fields at their onnx.proto3 field numbers', () => {
    const bytes = encodeModel(smallModel());
    expect(int64Of(only(bytes, 1))).toBe(8n); // ir_version
    expect(stringOf(only(bytes, 2))).toBe('modelloop-test'); // producer_name
    expect(stringOf(only(bytes, 6))).toBe('model doc'); // doc_string
    const opsets = all(bytes, 8).map((v) => [stringOf(only(bytesOf(v), 1)), int64Of(only(bytesOf(v), 2))]);
    expect(opsets).toEqual([['', 17n]]);
    const graph = bytesOf(only(bytes, 7));
    expect(stringOf(only(graph, 2))).toBe('small');
    expect(stringOf(only(graph, 10))).toBe('graph doc');
    const metadata = all(bytes, 14).map((v) => [stringOf(only(bytesOf(v), 1)), stringOf(only(bytesOf(v), 2))]);
    expect(metadata).toEqual([
      ['owner', 'team'],
      ['key with spaces', 'värde'],
    ]);
  });

  it('rejects a tensor whose data does not fill its dims', () => {
    const model = smallModel();
    const broken: ModelProto = {
      ...model,
      graph: { ...model.graph, initializer: [floatTensor('B', [3], [10, 20])] },
    };
    expect(() => encodeModel(broken)).toThrow(/tensor B has dims \[3\] \(3 elements\) but 2 values/);
  });
});
