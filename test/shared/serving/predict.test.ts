import { beforeAll, describe, expect, it } from 'vitest';
import { moveAlias } from '../../../shared/registry/aliases';
import { defineModel } from '../../../shared/registry/define-model';
import { predict, rowsOf } from '../../../shared/serving/predict';
import { retrain } from '../../../shared/training/retrain';
import { drainRetrainRequests } from '../../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel, type TestStack } from '../../support/stack';

let stack: TestStack;
let model: string;

beforeAll(async () => {
  stack = await testStack();
  model = uniqueModel('serve');
  const ingest = { ...stack, maxDropBytes: 1024 * 1024 };
  await defineModel(ingest, model, { task: 'classification', target: 'label' });
  await dropFile(stack, model, 'data.csv', separableCsv(100));
  const [request] = await drainRetrainRequests(stack.storageConnection, stack.queueName);
  const deps = { ...stack, timeBudgetSeconds: 60, holdoutFraction: 0.2 };
  await retrain(deps, request!);
  await retrain(deps, { ...request!, key: 'second' });
});

const deps = () => ({ models: stack.models, maxRows: 100 });
const yes = { x1: 5, x2: 2, color: 'red', amount: 10 };
const no = { x1: -5, x2: 2, color: 'blue', amount: -20 };

describe('predict', () => {
  it('answers instances with original labels and per-label probabilities from production', async () => {
    const reply = await predict(deps(), { model, selector: {}, body: { instances: [yes, no] } });
    expect(reply).toMatchObject({ model, version: 1, predictions: ['yes', 'no'] });
    expect(reply.probabilities![0]!.yes).toBeGreaterThan(0.9);
    expect(reply.probabilities![0]!.yes + reply.probabilities![0]!.no).toBeCloseTo(1, 5);
  });

  it('reads every body format of the contract to the same rows', () => {
    const expected = [{ a: 1, b: 'x' }, { a: 2, b: 'y' }];
    expect(rowsOf({ instances: expected }).rows).toEqual(expected);
    expect(rowsOf({ dataframe_records: expected }).rows).toEqual(expected);
    expect(rowsOf({ dataframe_split: { columns: ['a', 'b'], data: [[1, 'x'], [2, 'y']] } }).rows).toEqual(expected);
    expect(rowsOf({ input_data: { columns: ['a', 'b'], index: [0, 1], data: [[1, 'x'], [2, 'y']] } }).rows).toEqual(expected);
    expect(rowsOf({ inputs: { a: [1, 2], b: ['x', 'y'] } }).rows).toEqual(expected);
  });

  it('serves a named version and follows a moved alias', async () => {
    expect((await predict(deps(), { model, selector: { version: 2 }, body: { instances: [yes] } })).version).toBe(2);
    await moveAlias(stack, { model, alias: 'production', version: 2, by: 'user:test', reason: 'promote' });
    expect((await predict(deps(), { model, selector: {}, body: { instances: [yes] } })).version).toBe(2);
    await moveAlias(stack, { model, alias: 'production', version: 1, by: 'user:test', reason: 'roll back' });
    expect((await predict(deps(), { model, selector: {}, body: { instances: [yes] } })).version).toBe(1);
  });

  it('names the row and feature of a missing, unknown or mistyped value', async () => {
    const call = (instances: unknown[]) => predict(deps(), { model, selector: {}, body: { instances } });
    await expect(call([{ ...yes, x1: undefined }])).rejects.toMatchObject({ code: 'SchemaViolation', message: expect.stringMatching(/instances\.0\.x1: feature "x1" is missing/) });
    await expect(call([yes, { ...no, colour: 'red' }])).rejects.toMatchObject({ code: 'SchemaViolation', message: expect.stringMatching(/instances\.1\.colour: unknown feature "colour"/) });
    await expect(call([{ ...yes, x2: 'two' }])).rejects.toMatchObject({ code: 'SchemaViolation', problems: [expect.objectContaining({ path: ['instances', 0, 'x2'], expected: 'a number', received: 'a string "two"' })] });
  });

  it('accepts the columns the model ignores, such as the target', async () => {
    const reply = await predict(deps(), { model, selector: {}, body: { instances: [{ ...yes, label: 'yes' }] } });
    expect(reply.predictions).toEqual(['yes']);
  });

  it('says which model, version or alias is unknown', async () => {
    await expect(predict(deps(), { model: 'no-such-model', selector: {}, body: { instances: [yes] } })).rejects.toMatchObject({ code: 'ModelNotFound', message: expect.stringMatching(/"no-such-model" is not defined/) });
    await expect(predict(deps(), { model, selector: { version: 9 }, body: { instances: [yes] } })).rejects.toMatchObject({ code: 'VersionNotFound', message: expect.stringMatching(/no version 9/) });
    await expect(predict(deps(), { model, selector: { alias: 'staging' }, body: { instances: [yes] } })).rejects.toMatchObject({ code: 'VersionNotFound', message: expect.stringMatching(/no "staging" version/) });
  });

  it('refuses bodies it cannot read and more rows than the limit', async () => {
    await expect(predict(deps(), { model, selector: {}, body: { rows: [] } })).rejects.toMatchObject({ code: 'InvalidInput', message: expect.stringMatching(/instances/) });
    await expect(predict(deps(), { model, selector: {}, body: { instances: [[1, 2]] } })).rejects.toMatchObject({ code: 'InvalidInput', message: expect.stringMatching(/instances\[0\] must be an object/) });
    await expect(predict({ models: stack.models, maxRows: 1 }, { model, selector: {}, body: { instances: [yes, no] } })).rejects.toMatchObject({ code: 'PayloadTooLarge' });
  });
});
