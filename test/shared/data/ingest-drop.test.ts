import { beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../../shared/platform/blob-store';
import { dropReportSchema } from '../../../shared/data/drop-report';
import { defineModelAndJudgePending } from '../../../shared/data/define-and-judge';
import { ingestDrop, type IngestDeps } from '../../../shared/data/ingest-drop';
import { defineModel } from '../../../shared/registry/define-model';
import { drainRetrainRequests } from '../../support/queue';
import { separableCsv, testStack, uniqueModel, type TestStack } from '../../support/stack';

let stack: TestStack;
let deps: IngestDeps;

beforeAll(async () => {
  stack = await testStack();
  deps = { ...stack, maxDropBytes: 1024 * 1024 };
});

const drop = (model: string, file: string, text: string) => ingestDrop(deps, { model, file, bytes: Buffer.from(text) });

describe('ingestDrop', () => {
  it('accepts a good drop, infers and holds the contract, writes the report and asks for one retrain', async () => {
    const model = uniqueModel('ingest');
    await defineModel(deps, model, { task: 'classification', target: 'label' });
    const outcome = await drop(model, 'first.csv', separableCsv(40));
    expect(outcome.kind).toBe('judged');
    if (outcome.kind !== 'judged') return;
    expect(outcome.report).toMatchObject({ status: 'accepted', rowsRead: 40, acceptedRows: 40, rejectedRows: 0 });

    const stored = await stack.blobs.readJson(CONTAINERS.reports, `${model}/${outcome.report.datasetId}.json`);
    expect(dropReportSchema.parse(stored?.value).status).toBe('accepted');
    const doc = await stack.registry.getModel(model);
    expect(doc?.contract?.features).toMatchObject({ x1: { type: 'number' }, color: { type: 'category' } });
    const requests = await drainRetrainRequests(stack.storageConnection, stack.queueName);
    expect(requests).toEqual([expect.objectContaining({ model, reason: 'data', datasets: [outcome.report.datasetId], key: `data:${model}:${outcome.report.datasetId}` })]);
  });

  it('treats the same content under a second name as the same dataset', async () => {
    const model = uniqueModel('dup');
    await defineModel(deps, model, { task: 'classification', target: 'label' });
    const csv = separableCsv(30);
    await drop(model, 'a.csv', csv);
    const again = await drop(model, 'b.csv', csv);
    expect(again.kind).toBe('duplicate');
    const datasets = await stack.registry.listDatasets(model);
    expect(datasets).toHaveLength(1);
    expect(datasets[0]!.files).toEqual(['a.csv', 'b.csv']);
    const keys = new Set((await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model).map((r) => r.key));
    expect(keys.size).toBe(1);
  });

  it('rejects a drop missing the target column with a report naming it, and asks for no retrain', async () => {
    const model = uniqueModel('notarget');
    await defineModel(deps, model, { task: 'classification', target: 'label' });
    await drop(model, 'good.csv', separableCsv(20));
    await drainRetrainRequests(stack.storageConnection, stack.queueName);
    const outcome = await drop(model, 'bad.csv', 'x1,x2,color,amount\n1,2,red,3\n');
    expect(outcome.kind === 'judged' && outcome.report).toMatchObject({ status: 'rejected', code: 'SchemaViolation', missingColumns: ['label'], message: expect.stringMatching(/"label" missing \(label is the target\)/) });
    expect((await stack.registry.getDataset(model, outcome.kind === 'judged' ? outcome.report.datasetId : ''))?.status).toBe('rejected');
    expect(await drainRetrainRequests(stack.storageConnection, stack.queueName)).toEqual([]);
  });

  it('rejects a drop that breaks the held contract, pointing at the first bad line', async () => {
    const model = uniqueModel('contract');
    await defineModel(deps, model, { task: 'classification', target: 'label' });
    await drop(model, 'good.csv', separableCsv(20));
    const outcome = await drop(model, 'bad.csv', 'x1,x2,color,label,amount\n1,2,red,yes,3\n1,oops,red,no,3\n');
    expect(outcome.kind === 'judged' && outcome.report).toMatchObject({
      status: 'rejected',
      problems: [{ row: 3, column: 'x2', code: 'invalid_type', expected: 'a number', received: '"oops"' }],
      message: expect.stringMatching(/1 of 2 rows break the data contract.*line 3, column "x2"/),
    });
  });

  it('accepts the good rows when the model allows some bad ones', async () => {
    const model = uniqueModel('tolerant');
    await defineModel(deps, model, { task: 'classification', target: 'label', maxRejectedFraction: 0.5 });
    await drop(model, 'good.csv', separableCsv(20));
    const outcome = await drop(model, 'mixed.csv', 'x1,x2,color,label,amount\n1,2,red,yes,3\n1,oops,red,no,3\n');
    expect(outcome.kind === 'judged' && outcome.report).toMatchObject({ status: 'accepted', acceptedRows: 1, rejectedRows: 1 });
  });

  it('keeps a drop for an undefined model as pending and judges it once the model is defined', async () => {
    const model = uniqueModel('pending');
    const csv = separableCsv(20);
    await stack.blobs.write(CONTAINERS.datasets, `${model}/early.csv`, csv);
    const early = await drop(model, 'early.csv', csv);
    expect(early.kind === 'judged' && early.report.status).toBe('pending');
    const { judged } = await defineModelAndJudgePending(deps, model, { task: 'classification', target: 'label' });
    expect(judged).toBe(1);
    expect((await stack.registry.listDatasets(model))[0]?.status).toBe('accepted');
  });

  it('ignores files that are not data and empty blobs', async () => {
    const model = uniqueModel('ignore');
    expect(await drop(model, 'notes.txt', 'hello')).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(/not a data file/) });
    expect(await drop(model, 'empty.csv', '')).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(/empty/) });
  });
});
