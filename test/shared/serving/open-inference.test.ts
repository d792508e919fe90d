import { beforeAll, describe, expect, it } from 'vitest';
import { defineModel } from '../../../shared/registry/define-model';
import { MicroBatcher } from '../../../shared/serving/micro-batcher';
import { infer, modelMetadata, modelReady, serverMetadata, versionSelector, type OpenInferenceDeps } from '../../../shared/serving/open-inference';
import { retrain } from '../../../shared/training/retrain';
import { drainRetrainRequests } from '../../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel, type TestStack } from '../../support/stack';
import { everyDatatypeModel, registerTensorModel } from './tensor-model';

let stack: TestStack;
let imported: string;
let trained: string;
let deps: OpenInferenceDeps;

const row = (k: number) => ({ x: [k, k + 0.5], n: k * 1000, i: -k, d: k / 3, b: k % 2 === 0, s: `row-${k}` });
function request(rows: ReturnType<typeof row>[], extra: Record<string, unknown> = {}) {
  const n = rows.length;
  return {
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [n, 2], data: rows.map((r) => r.x) },
      { name: 'n', datatype: 'INT64', shape: [n, 1], data: rows.map((r) => r.n) },
      { name: 'i', datatype: 'INT32', shape: [n, 1], data: rows.map((r) => r.i) },
      { name: 'd', datatype: 'FP64', shape: [n, 1], data: rows.map((r) => r.d) },
      { name: 'b', datatype: 'BOOL', shape: [n, 1], data: rows.map((r) => r.b) },
      { name: 's', datatype: 'BYTES', shape: [n], data: rows.map((r) => r.s) },
    ],
    ...extra,
  };
}

beforeAll(async () => {
  stack = await testStack();
  imported = uniqueModel('v2-tensors');
  await registerTensorModel(stack, imported, 1, everyDatatypeModel());
  trained = uniqueModel('v2-trained');
  await defineModel({ ...stack, maxDropBytes: 1024 * 1024 }, trained, { task: 'classification', target: 'label' });
  await dropFile(stack, trained, 'data.csv', separableCsv(60));
  const [retrainRequest] = await drainRetrainRequests(stack.storageConnection, stack.queueName);
  await retrain({ ...stack, timeBudgetSeconds: 60, holdoutFraction: 0.2 }, retrainRequest!);
  deps = { models: stack.models, registry: stack.registry, maxRows: 100, batcher: new MicroBatcher({ enabled: true, maxRows: 64, maxDelayMs: 0 }) };
});

describe('Open Inference Protocol', () => {
  it('describes the server', () => {
    expect(serverMetadata()).toEqual({ name: 'modelloop', version: expect.any(String), extensions: [] });
  });

  it('describes an imported model with V2 datatypes, -1 for free dimensions and platform onnx_onnxv1', async () => {
    const meta = await modelMetadata(deps, imported, {});
    expect(meta).toMatchObject({ name: imported, versions: ['1'], platform: 'onnx_onnxv1' });
    expect(meta.inputs).toEqual([
      { name: 'x', datatype: 'FP32', shape: [-1, 2] },
      { name: 'n', datatype: 'INT64', shape: [-1, 1] },
      { name: 'i', datatype: 'INT32', shape: [-1, 1] },
      { name: 'd', datatype: 'FP64', shape: [-1, 1] },
      { name: 'b', datatype: 'BOOL', shape: [-1, 1] },
      { name: 's', datatype: 'BYTES', shape: [-1, 1] },
    ]);
    expect(meta.outputs.map((o) => `${o.name}:${o.datatype}`)).toEqual(['doubled:FP32', 'count:INT64', 'small:INT32', 'precise:FP64', 'negated:BOOL', 'name:BYTES']);
  });

  it('infers every datatype from nested or flat data, echoing the id and parameters', async () => {
    const reply = await infer(deps, imported, {}, request([row(1), row(2)], { id: 'req-7', parameters: { trace: true } }));
    expect(reply).toMatchObject({ model_name: imported, model_version: '1', id: 'req-7', parameters: { trace: true } });
    const byName = Object.fromEntries(reply.outputs.map((o) => [o.name, o]));
    expect(byName.doubled).toEqual({ name: 'doubled', datatype: 'FP32', shape: [2, 2], data: [2, 3, 4, 5] });
    expect(byName.count).toEqual({ name: 'count', datatype: 'INT64', shape: [2, 1], data: [1000, 2000] });
    expect(byName.small).toMatchObject({ datatype: 'INT32', data: [-1, -2] });
    expect(byName.precise!.datatype).toBe('FP64');
    expect(byName.precise!.data[0]).toBe(1 / 3);
    expect(byName.negated).toMatchObject({ datatype: 'BOOL', data: [true, false] });
    expect(byName.name).toMatchObject({ datatype: 'BYTES', shape: [2, 1], data: ['row-1', 'row-2'] });

    const flat = request([row(1), row(2)]);
    flat.inputs[0]!.data = [1, 1.5, 2, 2.5] as never;
    const again = await infer(deps, imported, { version: 1 }, flat);
    expect(again.outputs.find((o) => o.name === 'doubled')!.data).toEqual([2, 3, 4, 5]);
    expect(again).not.toHaveProperty('id');
  });

  it('returns only the outputs asked for, in the order asked, with their parameters', async () => {
    const reply = await infer(deps, imported, {}, request([row(3)], { outputs: [{ name: 'name' }, { name: 'count', parameters: { unit: 'each' } }] }));
    expect(reply.outputs).toEqual([
      { name: 'name', datatype: 'BYTES', shape: [1, 1], data: ['row-3'] },
      { name: 'count', datatype: 'INT64', shape: [1, 1], parameters: { unit: 'each' }, data: [3000] },
    ]);
  });

  it('serves a trained pipeline: one input per feature, label and probabilities out', async () => {
    const meta = await modelMetadata(deps, trained, { version: 1 });
    expect(meta.inputs).toContainEqual({ name: 'x1', datatype: 'FP32', shape: [-1, 1] });
    expect(meta.inputs).toContainEqual({ name: 'color', datatype: 'BYTES', shape: [-1, 1] });
    const reply = await infer(deps, trained, {}, {
      inputs: [
        { name: 'x1', datatype: 'FP32', shape: [2, 1], data: [5, -5] },
        { name: 'x2', datatype: 'FP32', shape: [2, 1], data: [2, 2] },
        { name: 'amount', datatype: 'FP32', shape: [2, 1], data: [10, -20] },
        { name: 'color', datatype: 'BYTES', shape: [2, 1], data: ['red', 'blue'] },
      ],
    });
    expect(reply.outputs.find((o) => o.name === 'label')).toMatchObject({ datatype: 'BYTES', shape: [2], data: ['yes', 'no'] });
    expect(reply.outputs.find((o) => o.name === 'probabilities')).toMatchObject({ datatype: 'FP32', shape: [2, 2] });
  });

  it('is ready once the session loads, and says which model or version is unknown', async () => {
    await expect(modelReady(deps, imported, { version: 1 })).resolves.toBeUndefined();
    await expect(modelReady(deps, imported, { version: 2 })).rejects.toMatchObject({ code: 'VersionNotFound' });
    await expect(modelMetadata(deps, 'no-such-model', {})).rejects.toMatchObject({ code: 'ModelNotFound' });
    expect(() => versionSelector('1.5')).toThrow(/Version "1.5" is not valid/);
    expect(versionSelector(undefined)).toEqual({});
  });

  it('names the input, element, expected and received type of bad tensors', async () => {
    const wrongType = request([row(1)]);
    wrongType.inputs[0]!.datatype = 'FP64';
    await expect(infer(deps, imported, {}, wrongType)).rejects.toMatchObject({
      code: 'SchemaViolation',
      problems: [expect.objectContaining({ path: ['inputs', 0, 'datatype'], expected: 'FP32', received: 'FP64' })],
    });

    const badElement = request([row(1), row(2)]);
    badElement.inputs[1]!.data = [1, 'two'] as never;
    await expect(infer(deps, imported, {}, badElement)).rejects.toMatchObject({
      code: 'SchemaViolation',
      problems: [expect.objectContaining({ path: ['inputs', 1, 'data', 1], expected: 'an integer', received: 'a string "two"' })],
    });

    const missing = request([row(1)]);
    missing.inputs.splice(4, 1);
    missing.inputs.push({ name: 'extra', datatype: 'FP32', shape: [1], data: [1] } as never);
    await expect(infer(deps, imported, {}, missing)).rejects.toMatchObject({ code: 'SchemaViolation', message: expect.stringMatching(/unknown input "extra".*input "b" is missing/) });

    const badShape = request([row(1)]);
    badShape.inputs[0]!.shape = [2, 1];
    await expect(infer(deps, imported, {}, badShape)).rejects.toMatchObject({ code: 'SchemaViolation', problems: [expect.objectContaining({ path: ['inputs', 0, 'shape'], expected: '[-1, 2] (-1: any size)' })] });

    const badCount = request([row(1)]);
    badCount.inputs[0]!.shape = [3, 2];
    await expect(infer(deps, imported, {}, badCount)).rejects.toMatchObject({ code: 'InvalidInput', message: /inputs\.0\.data: holds 2 elements but shape \[3, 2\] needs 6/ });

    const disagree = request([row(1), row(2)]);
    disagree.inputs[5] = { name: 's', datatype: 'BYTES', shape: [1], data: ['only one'] } as never;
    await expect(infer(deps, imported, {}, disagree)).rejects.toMatchObject({ code: 'SchemaViolation', message: /disagree in their first \(batch\) dimension/ });

    await expect(infer(deps, imported, {}, request([row(1)], { outputs: [{ name: 'nope' }] }))).rejects.toMatchObject({ code: 'InvalidInput', message: /no output "nope"/ });
    await expect(infer(deps, imported, {}, { inputs: [] })).rejects.toMatchObject({ code: 'InvalidInput', message: /inputs: must be a non-empty array/ });
    await expect(infer(deps, imported, {}, request([row(1)], { id: 7 }))).rejects.toMatchObject({ code: 'InvalidInput', message: /id: must be a string/ });
  });

  it('refuses more rows than the limit before loading the model', async () => {
    const many = Array.from({ length: 101 }, (_, k) => row(k));
    await expect(infer(deps, 'not-registered', {}, request(many))).rejects.toMatchObject({ code: 'PayloadTooLarge', message: /101 rows/ });
  });
});

describe('native predict on a tensor model', () => {
  it('points to V2 instead of guessing at named columns', async () => {
    const { predict } = await import('../../../shared/serving/predict');
    const model = uniqueModel('v2-only');
    const version = await registerTensorModel(stack, model, 1, everyDatatypeModel());
    await stack.registry.upsertVersion({ ...version, servesPredict: false });
    await expect(predict({ models: stack.models, maxRows: 10 }, { model, selector: {}, body: { instances: [{ x: 1 }] } })).rejects.toMatchObject({
      code: 'InvalidInput',
      message: expect.stringMatching(/not named columns.*POST \/v2\/models\/v2-only-[0-9a-f]+\/versions\/1\/infer/),
    });
  });
});
