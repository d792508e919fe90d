import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { warmUpInBackground } from '../../../shared/platform/warm-up';

const compiled = join(__dirname, '..', '..', '..', 'dist', 'shared', 'platform', 'warm-up.js');

describe('warmUpInBackground', () => {
  it('formats a date and runs its model through ONNX Runtime in a worker thread that then exits, once per process', async () => {
    const worker = warmUpInBackground();
    expect(worker, 'the compiled warm-up worker (npm run build) is found').toBeDefined();
    // Exit code 1 would mean Intl or ONNX Runtime failed: ONNX Runtime rejected the warm-up model or could not run it.
    const [code] = (await once(worker!, 'exit')) as [number];
    expect(code).toBe(0);
    expect(warmUpInBackground()).toBeUndefined();
  });

  it('lets a process end at any moment of the warm-up with its own exit code', () => {
    // Torn down inside an ONNX Runtime call, the worker would abort the process (exit code 134).
    for (let delayMs = 0; delayMs <= 150; delayMs += 15) {
      for (const end of [`setTimeout(() => {}, ${delayMs})`, `setTimeout(() => process.exit(3), ${delayMs})`]) {
        const run = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(compiled)}).warmUpInBackground(); ${end}`], { encoding: 'utf8' });
        expect({ delayMs, end, status: run.status, stderr: run.stderr }).toEqual({ delayMs, end, status: end.includes('exit(3)') ? 3 : 0, stderr: '' });
      }
    }
  });
});
