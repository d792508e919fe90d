import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, eventually, root, startLocalStackProcess, type LocalStackProcess } from '../support/local-stack';
import { separableCsv } from '../support/stack';

/**
 * `modelloop predict NAME --file rows.csv|rows.jsonl`, then `evaluate` and `evaluations`, as a user
 * runs them: the compiled CLI against the compiled local stack (build first).
 */
const run = promisify(execFile);
const model = 'cli-predict';
const dir = mkdtempSync(join(tmpdir(), 'modelloop-cli-predict-'));
let stack: LocalStackProcess;

const cli = (...args: string[]) => run(process.execPath, [join(root, 'dist', 'cli', 'modelloop.js'), '--url', stack.url, ...args], { cwd: root });
const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(async () => {
  // Every scored row logged at once; the evaluation timer kept out of the way (yearly), so `evaluate` alone decides the windows.
  stack = await startLocalStackProcess({ env: { INFERENCE_LOG_SAMPLE_RATE: '1', INFERENCE_LOG_FLUSH_SECONDS: '1', EVALUATION_SCHEDULE: '0 0 0 1 1 *' } });
  expect((await call(stack.url, 'PUT', `/models/${model}`, { task: 'classification', target: 'label' })).status).toBe(201);
  expect((await call(stack.url, 'PUT', `/datasets/${model}/data.csv`, separableCsv(60), 'text/csv')).status).toBe(202);
  await eventually('version 1 in production', async () => ((await call(stack.url, 'GET', `/models/${model}`)).json?.aliases?.production === 1 ? true : undefined), 90, () => stack.output());
}, 180_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('modelloop predict --file', () => {
  it('scores a CSV (columns in any order) and prints each line with its prediction and top probability', async () => {
    const csv = write('rows.csv', 'color,x1,x2,amount\nred,5,1,10\nblue,-5,2,-20\n');
    const { stdout } = await cli('predict', model, '--file', csv);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe(`${model} version 1`);
    expect(lines[1]).toMatch(/^LINE\s+COLOR\s+X1\s+X2\s+AMOUNT\s+PREDICTION\s+PROBABILITY$/);
    expect(lines[2]).toMatch(/^2\s+red\s+5\s+1\s+10\s+yes\s+(0\.9\d\d|1\.000)$/);
    expect(lines[3]).toMatch(/^3\s+blue\s+-5\s+2\s+-20\s+no\s+(0\.9\d\d|1\.000)$/);
  });

  it('scores JSON Lines the same, and --json prints the API reply itself', async () => {
    const jsonl = write('rows.jsonl', '{"x1": 5, "x2": 1, "color": "red", "amount": 10}\n{"x1": -5, "x2": 2, "color": "blue", "amount": -20}\n');
    const { stdout } = await cli('--json', 'predict', model, '--file', jsonl);
    const reply = JSON.parse(stdout) as { model: string; version: number; predictions: string[]; probabilities: Record<string, number>[] };
    expect(reply).toMatchObject({ model, version: 1, predictions: ['yes', 'no'] });
    expect(Object.keys(reply.probabilities[0]!).sort()).toEqual(['no', 'yes']);
  });

  it('sends an empty cell as null, so the API names the missing feature; exits non-zero', async () => {
    const csv = write('gap.csv', 'x1,x2,color,amount\n5,,red,10\n');
    await expect(cli('predict', model, '--file', csv)).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^modelloop: .*x2/) });
  });

  it('refuses a file it cannot read with the reason and the file name', async () => {
    await expect(cli('predict', model, '--file', write('rows.txt', 'x1\n1\n'))).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/modelloop: "rows\.txt" is not a rows file/) });
  });
});

describe('modelloop evaluate and evaluations', () => {
  it('evaluates what was scored, prints drift per input and the findings, and lists the evaluations', async () => {
    const definition = { task: 'classification', target: 'label', evaluation: { minRows: 10 } };
    expect((await call(stack.url, 'PUT', `/models/${model}`, definition)).status).toBe(200);
    const far = Array.from({ length: 20 }, (_, i) => `red,5,${50 + i},${-80 - i}`).join('\n');
    await cli('predict', model, '--file', write('far.csv', `color,x1,x2,amount\n${far}\n`));
    // Windows close on a whole second a little behind the clock: evaluate until the rows are in one.
    const report = await eventually(
      'an evaluation that saw the scored rows',
      async () => {
        const { stdout } = await cli('evaluate', model);
        return /^ALERT /.test(stdout) ? stdout : undefined;
      },
      30,
      () => stack.output(),
    );
    expect(report).toMatch(/^ALERT  \S+ → \S+  \(manual\)\n\nproduction v1\n  quality: No labelled drop arrived in the window/);
    expect(report).toMatch(/\n  INPUT\s+MEASURE\s+VALUE\s+DRIFT\s+NULLS\s+OUT OF RANGE\s+UNSEEN\n/);
    expect(report).toMatch(/\n  x2\s+PSI\s+\d+\.\d{4}\s+> 0\.2\s+0\.0%\s+100\.0%\n/);
    expect(report).toMatch(/\nFindings:\n(  - .*\n)*  - drift: x2 PSI \d+\.\d{4} > 0\.2 over \d+ sampled rows\n/);
    expect(report).toMatch(/Retrain requested: reason drift, key evaluation:cli-predict:/);

    await expect(cli('evaluate', model, '--fail-on-alert')).resolves.toBeDefined();
    const { stdout } = await cli('evaluations', model);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^WINDOW END\s+STATUS\s+PRODUCTION\s+DRIFT\s+QUALITY\s+CHALLENGER\s+RETRAIN$/);
    expect(lines.some((line) => /\salert\s+v1\s+\S*x2\S* \(\d+ rows\)\s+no-new-data\s+-\s+drift$/.test(line))).toBe(true);
    const json = JSON.parse((await cli('--json', 'evaluations', model, '--limit', '1')).stdout) as unknown[];
    expect(json).toHaveLength(1);
    await expect(cli('evaluations', model, '--from', 'yesterday')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/modelloop: "from" must be an ISO-8601 time/) });
  });
});

describe('modelloop retrain --wait', () => {
  it('follows the run and says what it registered', async () => {
    const { stdout, stderr } = await cli('retrain', model, '--wait', '--idempotency-key', 'cli-wait');
    expect(stderr).toMatch(/Retrain of cli-predict queued \(key manual:cli-predict:cli-wait\); waiting for it…/);
    expect(stdout.trim()).toMatch(/^Version \d+ registered as (challenger|production): .+\.$/);
    // The same key again is the same run: it is answered at once, nothing trains twice.
    const again = await cli('--json', 'retrain', model, '--wait', '--idempotency-key', 'cli-wait');
    expect(JSON.parse(again.stdout)).toMatchObject({ key: 'manual:cli-predict:cli-wait', status: 'succeeded' });
  });
});
