import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../host/emulators';
import { call, eventually, startLocalStackProcess, type LocalStackProcess } from '../support/local-stack';
import { separableCsv } from '../support/stack';

/**
 * `npm start` stopped with Ctrl-C: the host drains, runs the app's appTerminate hooks, and only then
 * stops the emulators, so what the app held in memory reaches storage. Runs the compiled stack
 * (`dist/host/start.js`): build first.
 */
let stack: LocalStackProcess;

beforeAll(async () => {
  // Every row sampled, and a flush interval no test waits out: only the stop can write the log.
  stack = await startLocalStackProcess({ env: { INFERENCE_LOG_SAMPLE_RATE: '1', INFERENCE_LOG_FLUSH_SECONDS: '3600' } });
}, 150_000);

afterAll(async () => {
  await stack?.dispose();
});

async function inferenceLogLines(model: string): Promise<Record<string, unknown>[]> {
  const container = BlobServiceClient.fromConnectionString(azuriteConnectionString(stack.ports.blob, stack.ports.queue)).getContainerClient('inference-logs');
  const lines: Record<string, unknown>[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: `${model}/` })) {
    const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  return lines;
}

describe('stopping the local stack with Ctrl-C', () => {
  it('writes the inference log rows scored just before the stop to inference-logs/', async () => {
    const model = 'flush-on-stop';
    expect((await call(stack.url, 'PUT', `/models/${model}`, { task: 'classification', target: 'label' })).status).toBe(201);
    expect((await call(stack.url, 'PUT', `/datasets/${model}/data.csv`, separableCsv(60), 'text/csv')).status).toBe(202);
    await eventually('version 1 in production', async () => ((await call(stack.url, 'GET', `/models/${model}`)).json?.aliases?.production === 1 ? true : undefined), 90, () => stack.output());

    const rows = [
      { x1: 5, x2: 1, color: 'red', amount: 10 },
      { x1: -5, x2: 2, color: 'blue', amount: -20 },
      { x1: 4.5, x2: 3, color: 'red', amount: 7 },
    ];
    const scored = await call(stack.url, 'POST', `/models/${model}/predict`, { instances: rows });
    expect(scored.status).toBe(200);
    // Nothing written yet: the timer is an hour away.
    expect(await inferenceLogLines(model)).toEqual([]);

    expect(await stack.stop()).toBe(0);
    await stack.restart();

    const lines = await inferenceLogLines(model);
    expect(lines).toHaveLength(rows.length);
    expect(lines.map((line) => (line.inputs as Record<string, unknown>).x1).sort()).toEqual([-5, 4.5, 5]);
    expect(lines.every((line) => line.model === model && line.version === 1)).toBe(true);
    expect(lines.map((line) => (line.outputs as Record<string, unknown>).label).sort()).toEqual(scored.json.predictions.slice().sort());
  }, 180_000);
});
