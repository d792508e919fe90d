import { describe, expect, it } from 'vitest';
import { inferenceLogPath, type InferenceLogLine } from '../../../shared/monitoring/inference-log';
import { readInferenceLog, type LogReadSummary } from '../../../shared/monitoring/inference-log-reader';
import { testStack, uniqueModel } from '../../support/stack';

const line = (i: number, model: string): InferenceLogLine => ({
  time: '2026-03-04T05:06:07.000Z',
  model,
  version: 1,
  inputs: { x: i, note: 'ünïcødé '.repeat(i % 7) },
  outputs: { label: i % 2 ? 'yes' : 'no' },
});

describe('reading the inference log', () => {
  it('reads every line of a many-chunk blob once, CRLF and multi-byte text included, and counts malformed lines', async () => {
    const { blobs } = await testStack();
    const model = uniqueModel('log-read');
    const texts = Array.from({ length: 20_000 }, (_, i) => JSON.stringify(line(i, model)));
    texts.splice(777, 0, '{not json');
    // Long enough for the download to arrive in many chunks, so lines are cut between them.
    await blobs.write('inference-logs', inferenceLogPath(model, new Date(), 'a'), texts.join('\r\n') + '\r\n');
    const summary: LogReadSummary = { blobs: 0, lines: 0, malformed: 0 };
    const seen: number[] = [];
    let batches = 0;
    for await (const lines of readInferenceLog(blobs, model, new Date(Date.now() - 60_000), new Date(Date.now() + 60_000), summary)) {
      batches++;
      for (const l of lines) {
        seen.push(l.inputs.x as number);
        expect(l.inputs.note).toBe('ünïcødé '.repeat((l.inputs.x as number) % 7));
      }
    }
    expect(batches).toBeGreaterThan(2);
    expect(seen).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    expect(summary).toEqual({ blobs: 1, lines: 20_000, malformed: 1 });
  });

  it('takes a blob into the window it was written in, whatever time its rows carry', async () => {
    const { blobs } = await testStack();
    const model = uniqueModel('log-read');
    // Rows scored an hour ago, written now: they belong to the window that holds now.
    const hourAgo = new Date(Date.now() - 3_600_000);
    await blobs.write('inference-logs', inferenceLogPath(model, hourAgo, 'late'), JSON.stringify({ ...line(1, model), time: hourAgo.toISOString() }) + '\n');
    const count = async (from: Date, to: Date): Promise<number> => {
      let n = 0;
      for await (const lines of readInferenceLog(blobs, model, from, to)) n += lines.length;
      return n;
    };
    expect(await count(new Date(hourAgo.getTime() - 60_000), new Date(hourAgo.getTime() + 60_000))).toBe(0);
    expect(await count(new Date(Date.now() - 60_000), new Date(Date.now() + 60_000))).toBe(1);
  });
});
