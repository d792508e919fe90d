import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';

/** The well-known Azurite development account. Public by design; never a production credential. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** The well-known Azurite development key (documented by Microsoft for the emulator). */
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** The well-known Cosmos DB emulator key; the local Cosmos REST server accepts any key. */
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface RunningService {
  /** Where it listens, for people. */
  readonly description: string;
  stop(): Promise<void>;
}

export interface RunningAzurite extends RunningService {
  readonly blobPort: number;
  readonly queuePort: number;
  /** A connection string for the Azure SDKs and the `AzureWebJobsStorage` setting. */
  readonly connectionString: string;
}

export interface RunningCosmos extends RunningService {
  readonly endpoint: string;
  readonly key: string;
}

/** Asks the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Fails with a message a person can act on when a fixed port is taken. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EADDRINUSE'
        ? `Port ${port} (${what}) is already in use. Stop whatever holds it, or set a different port in local.settings.json.`
        : `Cannot listen on port ${port} (${what}): ${String(err)}`,
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function azuriteConnectionString(blobPort: number, queuePort: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${blobPort}/${AZURITE_ACCOUNT};` +
    `QueueEndpoint=http://127.0.0.1:${queuePort}/${AZURITE_ACCOUNT};`
  );
}

export interface AzuriteOptions {
  /** Folder for Azurite's data; omitted means in memory. */
  location?: string;
  blobPort?: number;
  queuePort?: number;
}

/** Starts Azurite (blob + queue) as a child process and resolves once both services listen. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const blobPort = options.blobPort ?? (await freePort());
  const queuePort = options.queuePort ?? (await freePort());
  const tablePort = await freePort();
  const args = [
    require.resolve('azurite/dist/src/azurite.js'),
    '--blobPort', String(blobPort),
    '--queuePort', String(queuePort),
    '--tablePort', String(tablePort),
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForOutput(child, ['Blob service is successfully listening', 'Queue service is successfully listening'], 'Azurite');
  return {
    blobPort,
    queuePort,
    connectionString: azuriteConnectionString(blobPort, queuePort),
    description: `Azurite blob http://127.0.0.1:${blobPort}, queue http://127.0.0.1:${queuePort}` +
      (options.location ? ` (data in ${options.location})` : ' (in memory)'),
    stop: () => stopChild(child),
  };
}

/** Starts the Cosmos DB REST server (`@vercel/cosmosdb-server`, in memory) in this process. */
export async function startCosmos(port?: number): Promise<RunningCosmos> {
  // Loaded lazily: only the local stack and the tests need it.
  const { createHttpServer } = require('@vercel/cosmosdb-server') as {
    createHttpServer: () => Server;
  };
  const server = createHttpServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${actual}`;
  return {
    endpoint,
    key: COSMOS_EMULATOR_KEY,
    description: `Cosmos DB REST server ${endpoint} (in memory; rebuilt from blob storage at start)`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

function waitForOutput(child: ChildProcess, markers: string[], what: string, timeoutMs = 30_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const seen = new Set<string>();
    let output = '';
    const timer = setTimeout(() => fail(new Error(`${what} did not start within ${timeoutMs / 1000} s. Output:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const marker of markers) if (output.includes(marker)) seen.add(marker);
      if (seen.size === markers.length) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null): void => fail(new Error(`${what} exited with code ${code} before it was ready. Output:\n${output}`));
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill();
      reject(err);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
