// First, so that everything the local stack loads (the app's services, the Cosmos server, the host) goes through the module cache.
import './host-module-cache';
import { resolve } from 'node:path';
import { getServices } from '../shared/platform/services';
import { assertPortFree, freePort, startAzurite, startCosmos, type RunningService } from './emulators';
import { FunctionsHost } from './functions-host';
import { applyLocalSettings } from './settings';

/** Where `npm start` keeps Azurite's data, relative to the project; git-ignored. */
const DEFAULT_DATA_DIR = '.modelloop';

export interface LocalStack {
  readonly host: FunctionsHost;
  stop(): Promise<void>;
}

/**
 * `npm start`: Azurite (blob + queue, data on disk), the Cosmos DB REST server (in memory; the
 * registry is rebuilt from blob storage), and the local Functions host loading `dist/functions/*.js`.
 * Needs no configuration; reads `local.settings.json` when present, as the Core Tools do.
 * Emulators start only where the settings do not point at a real account.
 */
export async function startLocalStack(): Promise<LocalStack> {
  const scriptRoot = resolve(__dirname, '..', '..');
  const local = applyLocalSettings(scriptRoot);
  const env = process.env;
  const dataDir = resolve(scriptRoot, env.MODELLOOP_DATA_DIR || DEFAULT_DATA_DIR);
  const started: RunningService[] = [];
  const lines: string[] = [];
  const stopAll = async (): Promise<void> => {
    for (const service of started.reverse()) await service.stop().catch(() => undefined);
  };

  try {
    const httpPort = await port('MODELLOOP_HTTP_PORT', local?.localHttpPort ?? 7071, 'the Functions host');

    const storage = env.AzureWebJobsStorage;
    if (!storage || /^UseDevelopmentStorage=true/i.test(storage)) {
      const blobPort = await port('MODELLOOP_BLOB_PORT', 10000, 'Azurite blob');
      const queuePort = await port('MODELLOOP_QUEUE_PORT', 10001, 'Azurite queue');
      const azurite = await startAzurite({ location: resolve(dataDir, 'azurite'), blobPort, queuePort });
      started.push(azurite);
      env.AzureWebJobsStorage = azurite.connectionString;
      lines.push(azurite.description);
    } else lines.push('Storage: the account in AzureWebJobsStorage');

    const cosmosEndpoint = env.COSMOS_ENDPOINT;
    if (!cosmosEndpoint || /^http:\/\/(localhost|127\.0\.0\.1)[:/]/.test(cosmosEndpoint)) {
      const cosmos = await startCosmos(await port('MODELLOOP_COSMOS_PORT', 8081, 'the Cosmos DB server'));
      started.push(cosmos);
      env.COSMOS_ENDPOINT = cosmos.endpoint;
      env.COSMOS_KEY = cosmos.key;
      lines.push(cosmos.description);
    } else lines.push(`Registry: Cosmos DB at ${cosmosEndpoint}`);

    // Settings are checked, containers created (so that they are there to drop files into) and the
    // registry rebuilt before the first trigger fires.
    await (await getServices()).blobs.ensureContainers();

    const host = new FunctionsHost({ scriptRoot, port: httpPort, storageConnection: env.AzureWebJobsStorage, hostId: 'modelloop-local' });
    await host.load();
    await host.start();
    lines.push(`Functions host ${host.url}`);
    console.log(
      [
        '',
        'modelloop local stack is up:',
        ...lines.map((line) => `  ${line}`),
        '',
        'Functions:',
        ...host.functions.map((f) => `  ${f.name}: ${f.summary}`),
        '',
        `Health: ${host.url}/health · Walkthrough: README.md · Stop: Ctrl-C`,
        '',
      ].join('\n'),
    );
    return {
      host,
      stop: async () => {
        await host.stop();
        await (await getServices()).models.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A port from the environment (0 means any free one), else the default; fails clearly when taken. */
async function port(setting: string, fallback: number, what: string): Promise<number> {
  const raw = process.env[setting];
  if (raw === '0') return freePort();
  const value = raw ? Number(raw) : fallback;
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`${setting}=${raw} is not a port number.`);
  await assertPortFree(value, `${what}; set ${setting} to use another, or 0 for any free port`);
  return value;
}

/** Starts the stack and stops it cleanly on Ctrl-C (SIGINT) or SIGTERM; a second signal exits at once. */
export function runLocalStack(): void {
  startLocalStack().then(
    (stack) => {
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          console.error(`${signal} again: exiting without waiting.`);
          process.exit(1);
        }
        stopping = true;
        console.log(`\n${signal}: stopping the host (waiting for running functions), then the emulators ...`);
        stack.stop().then(
          () => {
            console.log('Stopped.');
            process.exit(0);
          },
          (err: unknown) => {
            console.error(`Stopping failed: ${err instanceof Error ? err.message : String(err)}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    },
    (err: unknown) => {
      console.error(`modelloop could not start: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

if (require.main === module) runLocalStack();
