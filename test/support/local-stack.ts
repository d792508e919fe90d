import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../host/emulators';

/** The project root, where `dist/host/start.js` (what `npm start` runs) lives once built. */
export const root = resolve(__dirname, '..', '..');

export interface LocalStackProcess {
  readonly url: string;
  readonly ports: { readonly http: number; readonly blob: number; readonly queue: number; readonly cosmos: number };
  readonly dataDir: string;
  /** Everything the stack printed so far, for failure messages. */
  output(): string;
  /** Ctrl-C, as a person stops it; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Starts the stack again on the same ports and data. */
  restart(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

/**
 * Starts the whole local stack as `npm start` does, in a child process, on free ports and a data
 * folder of its own, and waits for `GET /health` to answer 200.
 */
export async function startLocalStackProcess(options: { env?: Record<string, string> } = {}): Promise<LocalStackProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'modelloop-e2e-'));
  const ports = { http: await freePort(), blob: await freePort(), queue: await freePort(), cosmos: await freePort() };
  const url = `http://127.0.0.1:${ports.http}`;
  let child: ChildProcess;
  let output = '';
  const launch = async (): Promise<void> => {
    child = spawn(process.execPath, [join(root, 'dist', 'host', 'start.js')], {
      cwd: root,
      env: {
        ...process.env,
        MODELLOOP_DATA_DIR: dataDir,
        MODELLOOP_HTTP_PORT: String(ports.http),
        MODELLOOP_BLOB_PORT: String(ports.blob),
        MODELLOOP_QUEUE_PORT: String(ports.queue),
        MODELLOOP_COSMOS_PORT: String(ports.cosmos),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually('GET /health to answer 200', async () => ((await fetch(`${url}/health`)).status === 200 ? true : undefined), 120, () => output);
  };
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGINT');
    return exited;
  };
  await launch();
  return {
    url,
    ports,
    dataDir,
    output: () => output,
    stop,
    restart: launch,
    dispose: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `probe` gives a value (errors count as "not yet"); fails with what it waited for. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, seconds = 60, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${seconds} s waiting for ${what}.${context() ? `\nStack output:\n${context().slice(-4000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A JSON call to the stack, the way curl in the README makes it; `key` goes in `x-functions-key`. */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  key?: string | null,
): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': contentType };
  if (key) headers['x-functions-key'] = key;
  const response = await fetch(`${url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}
