import { createHash } from 'node:crypto';
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

  it('judges a drop streamed from its blob like the same bytes delivered whole, and knows it again by its hash', async () => {
    const model = uniqueModel('streamed');
    await defineModel(deps, model, { task: 'classification', target: 'label' });
    const csv = separableCsv(500);
    await stack.blobs.write(CONTAINERS.datasets, `${model}/big.csv`, csv);
    const blob = await stack.blobs.openRead(CONTAINERS.datasets, `${model}/big.csv`);
    const streamed = await ingestDrop(deps, { model, file: 'big.csv', chunks: blob!.stream as AsyncIterable<Uint8Array>, blob: { length: blob!.size } });
    expect(streamed.kind === 'judged' && streamed.report).toMatchObject({ status: 'accepted', rowsRead: 500, acceptedRows: 500, datasetId: createHash('sha256').update(csv).digest('hex') });
    expect(await drop(model, 'copy.csv', csv)).toMatchObject({ kind: 'duplicate' });

    const over = await stack.blobs.openRead(CONTAINERS.datasets, `${model}/big.csv`);
    const refused = await ingestDrop({ ...deps, maxDropBytes: 1000 }, { model, file: 'again.csv', chunks: (async function* () {
      for await (const chunk of over!.stream as AsyncIterable<Uint8Array>) yield chunk;
      yield Buffer.from('0.5,0.5,red,yes,1\n');
    })() });
    expect(refused.kind === 'judged' && refused.report).toMatchObject({ status: 'rejected', code: 'PayloadTooLarge', rowsRead: 0, bytes: Buffer.byteLength(csv) + 18 });
  });

  it('ignores files that are not data and empty blobs', async () => {
    const model = uniqueModel('ignore');
    expect(await drop(model, 'notes.txt', 'hello')).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(/not a data file/) });
    expect(await drop(model, 'empty.csv', '')).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(/empty/) });
  });

  it('ignores an append blob until it is sealed, and a blob that changed while it was read', async () => {
    const model = uniqueModel('growing');
    await defineModel(deps, model, { task: 'classification', target: 'label' });
    const bytes = Buffer.from(separableCsv(20));
    expect(await ingestDrop(deps, { model, file: 'log.csv', bytes, blob: { type: 'AppendBlob', length: bytes.length } })).toMatchObject({
      kind: 'ignored',
      reason: '"log.csv" is an append blob that can still grow; it is judged once sealed (or write drops as block blobs)',
    });
    expect(await ingestDrop(deps, { model, file: 'big.csv', bytes, blob: { type: 'BlockBlob', length: bytes.length + 10 } })).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(/^"big\.csv" changed while it was read \(\d+ bytes announced, \d+ read\)/),
    });
    expect(await stack.registry.listDatasets(model)).toEqual([]);
    const sealed = await ingestDrop(deps, { model, file: 'log.csv', bytes, blob: { type: 'AppendBlob', length: bytes.length, sealed: true } });
    expect(sealed.kind === 'judged' && sealed.report.status).toBe('accepted');
  });

  it('reads JSON Lines and Parquet drops through the same contract', async () => {
    const model = uniqueModel('formats');
    await defineModel(deps, model, { task: 'regression', target: 'y', features: { x: { type: 'number', min: 0 }, c: { type: 'category', values: ['a', 'b'] } } });
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ x: i, c: i % 2 ? 'a' : 'b', y: i * 2 })).join('\n');
    const jsonl = await drop(model, 'rows.jsonl', lines);
    expect(jsonl.kind === 'judged' && jsonl.report).toMatchObject({ status: 'accepted', fileFormat: 'jsonl', acceptedRows: 10 });
    const bad = await drop(model, 'bad.jsonl', `${lines}\n{"x": -1, "c": "z", "y": "big"}`);
    expect(bad.kind === 'judged' && bad.report).toMatchObject({
      status: 'rejected',
      problems: [
        { row: 11, column: 'x', code: 'out_of_range', expected: 'at least 0', received: '-1' },
        { row: 11, column: 'c', code: 'not_allowed', expected: 'one of a, b', received: '"z"' },
        { row: 11, column: 'y', code: 'invalid_type', expected: 'a number', received: '"big"' },
      ],
    });
  });
});

/** Every way a drop is refused: the report's code, its message, and where the problem is. */
describe('every rejection is explained', () => {
  let model: string;
  beforeAll(async () => {
    model = uniqueModel('explained');
    await defineModel(deps, model, {
      task: 'classification',
      target: 'label',
      features: { age: { type: 'integer', min: 0, max: 120 }, plan: { type: 'category', values: ['basic', 'pro'] }, member: { type: 'boolean' } },
      maxRejectedFraction: 0.5,
    });
  });
  const judged = async (file: string, text: string | Uint8Array) => {
    const outcome = await ingestDrop(deps, { model, file, bytes: typeof text === 'string' ? Buffer.from(text) : text });
    if (outcome.kind !== 'judged') throw new Error(`expected a verdict, got ${outcome.kind}`);
    return outcome.report;
  };

  it.each([
    ['missing_value', 'age,plan,member,label\n,basic,true,yes\n', { column: 'age', expected: 'an integer (column is not nullable)', received: 'empty' }],
    ['invalid_type', 'age,plan,member,label\nold,basic,true,yes\n', { column: 'age', expected: 'an integer', received: '"old"' }],
    ['invalid_type', 'age,plan,member,label\n3,basic,maybe,yes\n', { column: 'member', expected: 'true or false', received: '"maybe"' }],
    ['out_of_range', 'age,plan,member,label\n130,basic,true,yes\n', { column: 'age', expected: 'between 0 and 120', received: '130' }],
    ['not_allowed', 'age,plan,member,label\n3,gold,true,yes\n', { column: 'plan', expected: 'one of basic, pro', received: '"gold"' }],
    ['missing_value', 'age,plan,member,label\n3,pro,true,\n', { column: 'label', expected: 'a value (the target is required)', received: 'empty' }],
  ])('a row problem %s: %j', async (code, text, where) => {
    const report = await judged(`${code}-${where.column}.csv`, text);
    expect(report).toMatchObject({ status: 'rejected', code: 'SchemaViolation', rowsRead: 1, acceptedRows: 0, problems: [{ row: 2, code, ...where }], problemTotals: { [where.column]: { [code]: 1 } } });
    expect(report.message).toBe(`1 of 1 rows break the data contract (allowed: 50%); the drop is rejected. First: line 2, column "${where.column}": expected ${where.expected}, got ${where.received}.`);
  });

  it('accepts the good rows at the allowed fraction, and rejects the drop above it', async () => {
    const atLimit = await judged('half.csv', 'age,plan,member,label\n3,pro,true,yes\n4,gold,true,no\n');
    expect(atLimit).toMatchObject({ status: 'accepted', acceptedRows: 1, rejectedRows: 1, problems: [{ row: 3, column: 'plan', code: 'not_allowed' }] });
    expect(atLimit.message).toBe('Accepted 1 of 2 rows. 1 bad rows left out. First: line 3, column "plan": expected one of basic, pro, got "gold".');
    const over = await judged('mostly-bad.csv', 'age,plan,member,label\n3,pro,true,yes\n4,gold,true,no\n-5,pro,true,no\n');
    expect(over).toMatchObject({ status: 'rejected', code: 'SchemaViolation', acceptedRows: 0, rejectedRows: 3 });
  });

  it('reports and ignores extra columns', async () => {
    const report = await judged('extra.csv', 'age,plan,member,label,notes\n3,pro,true,yes,hello\n');
    expect(report).toMatchObject({ status: 'accepted', extraColumns: ['notes'], message: 'Accepted 1 of 1 rows. Extra columns ignored: notes.' });
  });

  it('rejects a drop missing a required column, naming it', async () => {
    const report = await judged('no-plan.csv', 'age,member,label\n3,true,yes\n');
    expect(report).toMatchObject({ status: 'rejected', code: 'SchemaViolation', missingColumns: ['plan'], message: 'Required column "plan" missing; the drop is rejected.' });
  });

  it('rejects a header without rows', async () => {
    expect(await judged('header-only.csv', 'age,plan,member,label\n')).toMatchObject({ status: 'rejected', code: 'SchemaViolation', message: 'The drop has a header but no data rows.' });
  });

  it('rejects a file that cannot be read, naming the line', async () => {
    expect(await judged('broken.csv', 'age,plan,member,label\n3,pro,true,yes\n3,"pro,true,yes\n')).toMatchObject({
      status: 'rejected',
      code: 'UnsupportedFormat',
      message: 'broken.csv is not valid CSV at line 3: a quoted field is never closed.',
    });
    expect(await judged('broken.jsonl', '{"age": 3}\nnot json\n')).toMatchObject({ status: 'rejected', code: 'UnsupportedFormat', message: expect.stringMatching(/^broken\.jsonl is not valid JSON Lines at line 2: /) });
    expect(await judged('broken.parquet', 'PAR1 not really')).toMatchObject({ status: 'rejected', code: 'UnsupportedFormat', message: expect.stringMatching(/^broken\.parquet is not a readable Parquet file: /) });
  });

  it('rejects a drop over MAX_DROP_BYTES without reading it', async () => {
    const outcome = await ingestDrop({ ...deps, maxDropBytes: 10 }, { model, file: 'large.csv', bytes: Buffer.from('age,plan,member,label\n3,pro,true,yes\n') });
    expect(outcome.kind === 'judged' && outcome.report).toMatchObject({ status: 'rejected', code: 'PayloadTooLarge', message: 'The drop is 37 bytes, over the limit of 10 bytes set by MAX_DROP_BYTES; split it into smaller drops or raise the setting.' });
  });

  it('keeps a drop for a model not defined yet as pending, saying how to define it', async () => {
    const other = uniqueModel('undefined');
    const outcome = await ingestDrop(deps, { model: other, file: 'early.csv', bytes: Buffer.from('a,b\n1,2\n') });
    expect(outcome.kind === 'judged' && outcome.report).toMatchObject({
      status: 'pending',
      code: 'ModelNotFound',
      message: `Model "${other}" is not defined yet; the drop is kept and judged once it is (PUT /models/${other}).`,
    });
  });
});
