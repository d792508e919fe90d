import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { isBatchable, MicroBatcher, type Feeds } from '../../../shared/serving/micro-batcher';
import { everyDatatypeModel } from './tensor-model';

let session: ort.InferenceSession;
const model = everyDatatypeModel();

/** The real session, counting the runs that reach it. */
function counted(): { session: ort.InferenceSession; runs: number[] } {
  const runs: number[] = [];
  const wrapper = {
    run: (feeds: Feeds) => {
      runs.push(feeds.x!.dims[0]!);
      return session.run(feeds);
    },
  };
  return { session: wrapper as unknown as ort.InferenceSession, runs };
}

function feeds(k: number, rows = 1): Feeds {
  const x = new Float32Array(rows * 2).map((_, j) => k * 10 + j);
  return {
    x: new ort.Tensor('float32', x, [rows, 2]),
    n: new ort.Tensor('int64', BigInt64Array.from({ length: rows }, (_, j) => BigInt(k * 100 + j)), [rows, 1]),
    i: new ort.Tensor('int32', Int32Array.from({ length: rows }, () => k), [rows, 1]),
    d: new ort.Tensor('float64', Float64Array.from({ length: rows }, () => k / 7), [rows, 1]),
    b: new ort.Tensor('bool', Uint8Array.from({ length: rows }, () => k % 2), [rows, 1]),
    s: new ort.Tensor('string', Array.from({ length: rows }, (_, j) => `r${k}-${j}`), [rows, 1]),
  };
}

beforeAll(async () => {
  session = await ort.InferenceSession.create(model.bytes);
});

describe('MicroBatcher', () => {
  it('coalesces concurrent requests into one run and gives each its own rows back', async () => {
    const { session: s, runs } = counted();
    const batcher = new MicroBatcher({ enabled: true, maxRows: 64, maxDelayMs: 0 });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, k) => batcher.run(s, feeds(k, (k % 3) + 1), (k % 3) + 1, true)));
    expect(runs).toEqual([19]);
    replies.forEach((reply, k) => {
      const rows = (k % 3) + 1;
      expect(reply.doubled!.dims).toEqual([rows, 2]);
      expect(Array.from(reply.doubled!.data as Float32Array)).toEqual(Array.from({ length: rows * 2 }, (_, j) => 2 * (k * 10 + j)));
      expect(Array.from(reply.count!.data as BigInt64Array, Number)).toEqual(Array.from({ length: rows }, (_, j) => k * 100 + j));
      expect(reply.name!.data).toEqual(Array.from({ length: rows }, (_, j) => `r${k}-${j}`));
      expect(Array.from(reply.negated!.data as Uint8Array)).toEqual(Array.from({ length: rows }, () => (k % 2 ? 0 : 1)));
    });
  });

  it('takes plain feeds (type, data, dims) as scoring builds them, alone and batched with tensors', async () => {
    const plain = (k: number, rows: number): Feeds =>
      Object.fromEntries(Object.entries(feeds(k, rows)).map(([name, t]) => [name, { type: t.type, data: t.data, dims: [...t.dims] }]));
    const { session: s, runs } = counted();
    const batcher = new MicroBatcher({ enabled: true, maxRows: 64, maxDelayMs: 0 });
    const replies = await Promise.all(Array.from({ length: 6 }, (_, k) => batcher.run(s, k % 2 ? plain(k, 2) : feeds(k, 2), 2, true)));
    const alone = await new MicroBatcher({ enabled: false, maxRows: 64, maxDelayMs: 0 }).run(s, plain(3, 2), 2, true);
    expect(runs).toEqual([12, 2]);
    replies.forEach((reply, k) => {
      expect(Array.from(reply.doubled!.data as Float32Array)).toEqual([0, 1, 2, 3].map((j) => 2 * (k * 10 + j)));
      expect(reply.name!.data).toEqual([`r${k}-0`, `r${k}-1`]);
    });
    expect(Array.from(alone.doubled!.data as Float32Array)).toEqual(Array.from(replies[3]!.doubled!.data as Float32Array));
    expect(Array.from(alone.count!.data as BigInt64Array, Number)).toEqual([300, 301]);
  });

  it('never puts more than maxRows rows in one run', async () => {
    const { session: s, runs } = counted();
    const batcher = new MicroBatcher({ enabled: true, maxRows: 4, maxDelayMs: 0 });
    await Promise.all(Array.from({ length: 10 }, (_, k) => batcher.run(s, feeds(k), 1, true)));
    expect(runs).toEqual([4, 4, 2]);
  });

  it('waits up to maxDelayMs for later requests to join', async () => {
    const { session: s, runs } = counted();
    const batcher = new MicroBatcher({ enabled: true, maxRows: 64, maxDelayMs: 200 });
    const first = batcher.run(s, feeds(1), 1, true);
    await new Promise((r) => setTimeout(r, 20));
    const second = batcher.run(s, feeds(2), 1, true);
    await Promise.all([first, second]);
    expect(runs).toEqual([2]);
  });

  it('runs each request alone when switched off or when the model is not batchable', async () => {
    const off = counted();
    const disabled = new MicroBatcher({ enabled: false, maxRows: 64, maxDelayMs: 0 });
    await Promise.all([1, 2, 3].map((k) => disabled.run(off.session, feeds(k), 1, true)));
    expect(off.runs).toEqual([1, 1, 1]);

    const fixed = counted();
    const batcher = new MicroBatcher({ enabled: true, maxRows: 64, maxDelayMs: 0 });
    await Promise.all([1, 2, 3].map((k) => batcher.run(fixed.session, feeds(k), 1, false)));
    expect(fixed.runs).toEqual([1, 1, 1]);
  });

  it('fails only the bad request of a batch; the others are answered', async () => {
    const { session: s } = counted();
    const batcher = new MicroBatcher({ enabled: true, maxRows: 64, maxDelayMs: 0 });
    const bad = feeds(9);
    bad.s = new ort.Tensor('float32', Float32Array.of(1), [1, 1]);
    const results = await Promise.allSettled([batcher.run(s, feeds(1), 1, true), batcher.run(s, bad, 1, true), batcher.run(s, feeds(2), 1, true)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseFulfilledResult<ort.InferenceSession.OnnxValueMapType>).value.name!.data).toEqual(['r2-0']);
  });

  it('counts a model as batchable only when every input and output has a free first dimension', () => {
    expect(isBatchable(model)).toBe(true);
    expect(isBatchable({ inputs: [{ name: 'x', type: 'float', shape: [1, 4] }], outputs: model.outputs })).toBe(false);
    expect(isBatchable({ inputs: model.inputs, outputs: [{ name: 'y', type: 'float', shape: [] }] })).toBe(false);
  });
});
