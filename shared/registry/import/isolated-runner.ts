import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { compiledWorker } from '../../platform/worker-script';
import type { OnnxRunner, PlainTensor } from '../holdout';
import type { ChildReply, ChildRequest } from './onnx-child';

export interface IsolationLimits {
  /** The child is killed when its resident memory passes this. @default 1 GiB */
  readonly memoryBytes: number;
  /** Loading, and each run, must finish within this. @default 30 s */
  readonly timeoutMs: number;
}

export const DEFAULT_ISOLATION_LIMITS: IsolationLimits = { memoryBytes: 1024 * 1024 * 1024, timeoutMs: 30_000 };

/** Why an isolated model was stopped; the message goes into the import report. */
export class IsolationError extends Error {
  override readonly name = 'IsolationError';
  constructor(
    readonly reason: 'timeout' | 'memory' | 'crashed' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

/** The compiled child script; under vitest the sources are TypeScript, so use the copy `npm run build` makes. */
function childScript(): string {
  const script = compiledWorker(__dirname, 'onnx-child.js');
  if (!script) throw new Error('The ONNX isolation child (onnx-child.js) is not built; run "npm run build".');
  return script;
}

/**
 * Loads an untrusted ONNX model in a child process with a V8 heap cap, a resident-memory watch
 * and a time limit on every step. Whatever the file does to ONNX Runtime — crash, hang, allocate
 * without bound — the child is killed and the caller gets an `IsolationError`.
 */
export async function isolatedRunner(bytes: Uint8Array, limits: IsolationLimits = DEFAULT_ISOLATION_LIMITS): Promise<OnnxRunner & { readonly inputNames: string[]; readonly outputNames: string[] }> {
  const heapMb = Math.max(64, Math.floor(limits.memoryBytes / 1024 / 1024 / 2));
  const child = fork(childScript(), [], {
    serialization: 'advanced',
    execArgv: [`--max-old-space-size=${heapMb}`],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  const watch = watchMemory(child, limits.memoryBytes);
  let nextId = 1;
  const call = (request: ChildRequest, what: string): Promise<ChildReply> =>
    new Promise<ChildReply>((resolve, reject) => {
      const done = (error: IsolationError | undefined, value?: ChildReply): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (error) {
          child.kill('SIGKILL');
          reject(error);
        } else resolve(value!);
      };
      const timer = setTimeout(() => done(new IsolationError('timeout', `${what} did not finish within ${limits.timeoutMs / 1000} s and was stopped`)), limits.timeoutMs);
      const onMessage = (message: ChildReply): void => {
        if (message.type === 'error') done(new IsolationError('failed', `${what} failed in ONNX Runtime: ${message.message}`));
        else if (request.type === 'load' || (message.type === 'ran' && message.id === request.id)) done(undefined, message);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (watch.exceeded) done(new IsolationError('memory', `${what} used more than ${Math.round(limits.memoryBytes / 1024 / 1024)} MiB of memory and was stopped`));
        else done(new IsolationError('crashed', `${what} crashed the isolated ONNX Runtime process (${signal ?? `exit code ${code}`})${stderr ? `: ${lastLine(stderr)}` : ''}`));
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send(request);
    });

  try {
    const loaded = await call({ type: 'load', bytes }, 'Loading the model');
    if (loaded.type !== 'loaded') throw new IsolationError('failed', 'the isolated process answered out of turn');
    return {
      inputNames: loaded.inputNames,
      outputNames: loaded.outputNames,
      async run(feeds) {
        const id = nextId++;
        const reply = await call({ type: 'run', id, feeds: feeds as Record<string, { type: string; dims: number[]; data: unknown }> }, 'Running the model');
        if (reply.type !== 'ran') throw new IsolationError('failed', 'the isolated process answered out of turn');
        return reply.outputs as Record<string, PlainTensor>;
      },
      async close() {
        watch.stop();
        child.kill('SIGKILL');
      },
    };
  } catch (err) {
    watch.stop();
    child.kill('SIGKILL');
    throw err;
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1]!.slice(0, 300);
}

/**
 * Polls the child's resident set size (Linux /proc) and kills it above the limit: the V8 heap cap
 * does not bound ONNX Runtime's native allocations.
 */
function watchMemory(child: ChildProcess, limit: number): { exceeded: boolean; stop(): void } {
  const state = { exceeded: false, stop: () => clearInterval(timer) };
  const pageSize = 4096;
  const timer = setInterval(() => {
    if (child.pid === undefined || child.exitCode !== null) return;
    try {
      const resident = Number(readFileSync(`/proc/${child.pid}/statm`, 'utf8').split(' ')[1]) * pageSize;
      if (resident > limit) {
        state.exceeded = true;
        child.kill('SIGKILL');
      }
    } catch {
      // Not Linux, or the child is gone: the time limit still applies.
    }
  }, 50);
  timer.unref();
  child.once('exit', () => clearInterval(timer));
  return state;
}
