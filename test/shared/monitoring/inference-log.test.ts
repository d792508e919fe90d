import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceLog, inferenceLogHourPrefix, inferenceLogPath, type InferenceLogLine } from '../../../shared/monitoring/inference-log';
import type { BlobStore } from '../../../shared/platform/blob-store';
import { silentLogger, type Logger } from '../../../shared/platform/logger';
import { testStack, uniqueModel } from '../../support/stack';

const inputs = (n: number) => ({
  x1: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => (i === 1 ? NaN : i)), [n, 1]),
  color: new ort.Tensor('string', Array.from({ length: n }, (_, i) => `c${i}`), [n, 1]),
});
const outputs = (n: number) => ({
  label: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2)), [n]),
  probabilities: new ort.Tensor('float32', Float32Array.from({ length: n * 2 }, (_, j) => (j % 2 ? 0.75 : 0.25)), [n, 2]),
});

async function readLines(blobs: BlobStore, model: string): Promise<InferenceLogLine[]> {
  const listed = await blobs.list('inference-logs', `${model}/`);
  const lines: InferenceLogLine[] = [];
  for (const blob of listed) {
    const text = (await blobs.read('inference-logs', blob.name))!.bytes.toString('utf8');
    lines.push(...text.trim().split('\n').map((line) => JSON.parse(line) as InferenceLogLine));
  }
  return lines;
}

describe('inference log', () => {
  it('partitions by model and UTC hour', () => {
    const at = new Date('2026-03-04T05:06:07.089Z');
    expect(inferenceLogPath('churn', at, 'ab12')).toBe('churn/2026/03/04/05/2026-03-04T050607089Z-ab12.jsonl');
    expect(inferenceLogHourPrefix('churn', at)).toBe('churn/2026/03/04/05/');
  });

  it('writes every sampled row as one JSON line with its inputs and outputs, only when flushed', async () => {
    const { blobs } = await testStack();
    const model = uniqueModel('log');
    const log = new InferenceLog({ blobs, log: silentLogger, sampleRate: 1, flushIntervalMs: 60_000 });
    log.record(model, 3, inputs(3), outputs(3), 3);
    expect(await readLines(blobs, model)).toEqual([]);
    await log.flush();
    const lines = await readLines(blobs, model);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toEqual({ time: expect.any(String), model, version: 3, inputs: { x1: null, color: 'c1' }, outputs: { label: 1, probabilities: [0.25, 0.75] } });
    const listed = await blobs.list('inference-logs', `${model}/`);
    expect(listed[0]!.name.startsWith(inferenceLogHourPrefix(model, new Date(lines[0]!.time)))).toBe(true);
  });

  it('keeps about the sampled fraction of rows, and none at rate 0', async () => {
    const { blobs } = await testStack();
    const model = uniqueModel('log');
    let state = 0;
    const log = new InferenceLog({ blobs, log: silentLogger, sampleRate: 0.25, flushIntervalMs: 60_000, random: () => (state++ % 4) / 4 });
    log.record(model, 1, inputs(8), outputs(8), 8);
    await log.flush();
    expect((await readLines(blobs, model)).map((l) => l.inputs.color)).toEqual(['c0', 'c4']);

    const none = new InferenceLog({ blobs, log: silentLogger, sampleRate: 0, flushIntervalMs: 60_000 });
    const other = uniqueModel('log');
    none.record(other, 1, inputs(8), outputs(8), 8);
    await none.flush();
    expect(await readLines(blobs, other)).toEqual([]);
  });

  it('flushes on its own timer', async () => {
    const { blobs } = await testStack();
    const model = uniqueModel('log');
    const log = new InferenceLog({ blobs, log: silentLogger, sampleRate: 1, flushIntervalMs: 50 });
    log.record(model, 1, inputs(2), outputs(2), 2);
    const deadline = Date.now() + 10_000;
    let lines: InferenceLogLine[] = [];
    while (lines.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      lines = await readLines(blobs, model);
    }
    expect(lines).toHaveLength(2);
  });

  it('never throws into the request when storage fails; it logs and drops the rows', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const broken = { write: () => Promise.reject(new Error('storage is down')) } as unknown as BlobStore;
    const log = new InferenceLog({ blobs: broken, log: logger, sampleRate: 1, flushIntervalMs: 60_000, maxBufferedRows: 2 });
    expect(() => log.record('m', 1, inputs(3), outputs(3), 3)).not.toThrow();
    await expect(log.flush()).resolves.toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/1 sampled rows were dropped/), expect.stringMatching(/2 rows for inference-logs\/m\/.* were not written: storage is down/)]);
  });
});
