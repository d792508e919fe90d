// First, so that the host's own dependencies and the app's files load through the module cache.
import { hostModuleCache } from './host-module-cache';
import { createRequire } from 'node:module';
import { hostname as machineName } from 'node:os';
import { join, relative } from 'node:path';
import { BlobTriggerListener, parseBlobPath } from './blob-trigger';
import { attachCoreApi, installCoreApi, loadWithCoreApi, type BindingMetadata, type CoreApiReceiver, type FunctionCallback } from './core-api';
import { resolveEntryPoints } from './entry-points';
import { defineFunction, resolveAppSettings, type FunctionDefinition, type TriggerType } from './function-definition';
import { HttpTriggerServer, httpRouteOf, type AuthLevel } from './http-trigger';
import { HookRegistry, Invoker } from './invoker';
import { consoleLogger, filteredLogger, toError, type HostLogger, type HostLogLevel } from './logger';
import { createQueueTrigger, queueNameOf, writeQueueOutputs } from './queue-trigger';
import { applyLocalSettings, parseHostJson, readHostJson, type HostSettings, type LocalSettings } from './settings';
import { StorageConnections } from './storage';
import { TimerTriggerListener, timerScheduleShape } from './timer-trigger';

// Before any function file requires @azure/functions, so it never falls back to its "test mode".
installCoreApi();

export interface PollingOptions {
  /** How often blob trigger containers are listed. @default 2000 */
  readonly blobScanIntervalMs?: number;
  /** First wait after an empty queue poll; it doubles up to the maximum. @default 100 */
  readonly queueMinIntervalMs?: number;
  /** @default host.json extensions.queues.maxPollingInterval (1 minute) */
  readonly queueMaxIntervalMs?: number;
  /** Initial invisibility of a received message, renewed at half while its function runs. @default 600_000 (10 minutes, as the host) */
  readonly queueMessageLeaseMs?: number;
}

export interface FunctionsHostOptions {
  /** The function app folder: package.json (whose `main` names the function files), host.json, local.settings.json. */
  readonly scriptRoot: string;
  /** 0 picks a free port. @default local.settings.json `Host.LocalHttpPort`, else 7071 */
  readonly port?: number;
  /** Keys are not enforced locally, so by default only this machine can call. @default "127.0.0.1" */
  readonly hostname?: string;
  /**
   * Storage connection string used when a binding's `connection` setting (or `AzureWebJobsStorage`, the
   * host's own storage) is unset or `UseDevelopmentStorage=true`: the emulator the local stack started.
   */
  readonly storageConnection?: string;
  /** @default consoleLogger */
  readonly log?: HostLogger;
  /** host.json content to use instead of `<scriptRoot>/host.json`. */
  readonly hostJson?: unknown;
  /**
   * Names the host's blob receipts, timer status and blob trigger queue, so it must stay the same across
   * restarts. Hosts that share an id and a storage account share that queue and those receipts, as in
   * Azure: hosts running side by side with different functions (e.g. test files) need ids of their own.
   * @default AzureFunctionsWebHost__hostid, else the machine name
   */
  readonly hostId?: string;
  readonly polling?: PollingOptions;
  /** How long stop() waits for running invocations. @default 30_000 */
  readonly drainTimeoutMs?: number;
  /** Larger HTTP request bodies get 413. @default FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, else 104_857_600 (100 MB, as in Azure) */
  readonly maxRequestBodyBytes?: number;
  /** Copy local.settings.json `Values` into process.env, as Core Tools do. @default true */
  readonly localSettings?: boolean;
}

/** A loaded function, for the listing printed at start. */
export interface LoadedFunction {
  readonly name: string;
  readonly triggerType: TriggerType;
  /** Like Core Tools: `[POST] http://localhost:7071/models/{model}/predict`, `blobTrigger (datasets/{model}/{name})`. */
  readonly summary: string;
  /** Disabled with the app setting `AzureWebJobs.<name>.Disabled`. */
  readonly disabled: boolean;
  readonly authLevel?: AuthLevel;
}

/** What `register` takes besides the name: the bindings as `@azure/functions` registers them. */
export interface FunctionRegistration {
  readonly bindings: Readonly<Record<string, BindingMetadata>>;
  readonly retryOptions?: unknown;
}

interface Listener {
  start(): Promise<void>;
  stop(drainMs: number): Promise<void>;
}

type HostState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

const MODULE_CACHE_FLUSH_DELAY_MS = 3000;

/** Modules required by earlier loads in this process, re-run on the next load so it registers again. */
const appModules = new Set<string>();

/**
 * The local Azure Functions host: loads the app's function files (package.json `main`) through the same
 * `@azure/functions` registrations Azure uses, and drives them from HTTP, blob, queue and timer triggers
 * as host.json configures, against Azurite.
 */
export class FunctionsHost {
  readonly #options: FunctionsHostOptions;
  readonly #definitions = new Map<string, FunctionDefinition>();
  readonly #hooks = new HookRegistry();
  readonly #receiver: CoreApiReceiver;
  #log: HostLogger;
  #settings: HostSettings | undefined;
  #localSettings: LocalSettings | undefined;
  #state: HostState = 'created';
  #stopping: Promise<void> | undefined;
  #invoker: Invoker | undefined;
  #http: HttpTriggerServer | undefined;
  #listeners: Listener[] = [];
  #port: number | undefined;
  #moduleCacheFlush: NodeJS.Timeout | undefined;

  constructor(options: FunctionsHostOptions) {
    this.#options = options;
    this.#log = options.log ?? consoleLogger;
    this.#receiver = {
      registerFunction: (metadata, callback) => this.#add(defineFunction(metadata, callback)),
      registerHook: (name, callback) => this.#hooks.register(name, callback),
      systemLog: (level, message) => this.#log({ level: hostLevel(level), category: 'Host.Worker', message }),
    };
  }

  /** host.json as the host applies it (reads it, and local.settings.json, on first use). */
  get settings(): HostSettings {
    return this.#prepare();
  }

  /** local.settings.json as applied, if there is one. */
  get localSettings(): LocalSettings | undefined {
    this.#prepare();
    return this.#localSettings;
  }

  /** The HTTP port: the one listened on once started, else the configured one. */
  get port(): number {
    return this.#port ?? this.#options.port ?? this.#localSettings?.localHttpPort ?? 7071;
  }

  /** `http://localhost:<port>`. */
  get url(): string {
    return `http://localhost:${this.port}`;
  }

  get functions(): readonly LoadedFunction[] {
    const prefix = this.#settings?.routePrefix ?? 'api';
    return [...this.#definitions.values()].map((definition) => {
      const triggerType = definition.trigger.type;
      const disabled = isDisabled(definition.name);
      let summary: string;
      let authLevel: AuthLevel | undefined;
      if (triggerType === 'httpTrigger') {
        const route = httpRouteOf(definition);
        authLevel = route.authLevel;
        const path = [prefix, route.template.text.replace(/^~?\//, '')].filter((part) => part !== '').join('/');
        summary = `[${route.methods.length > 0 ? route.methods.join(',') : 'ALL'}] ${this.url}/${path}`;
      } else {
        const detail = { blobTrigger: 'path', queueTrigger: 'queueName', timerTrigger: 'schedule' }[triggerType];
        summary = `${triggerType} (${String(definition.trigger[detail])})`;
      }
      return { name: definition.name, triggerType, summary: disabled ? `${summary} (disabled)` : summary, disabled, authLevel };
    });
  }

  /**
   * Requires every file package.json `main` matches, collecting what they register through
   * `@azure/functions`. Fails with the file and the reason when a file throws or registers something the
   * local host cannot run.
   */
  async load(): Promise<void> {
    this.#prepare();
    if (this.#state !== 'created') throw new Error('load() must come before start().');
    const files = resolveEntryPoints(this.#options.scriptRoot);
    const requireApp = createRequire(join(this.#options.scriptRoot, 'package.json'));
    for (const id of appModules) delete requireApp.cache[id];
    const before = new Set(Object.keys(requireApp.cache));
    try {
      loadWithCoreApi(this.#receiver, () => {
        for (const file of files) {
          try {
            requireApp(file);
          } catch (err) {
            throw new Error(`Worker was unable to load entry point "${relative(this.#options.scriptRoot, file)}": ${toError(err).message}`, { cause: err });
          }
        }
      });
    } finally {
      for (const id of Object.keys(requireApp.cache)) {
        if (!before.has(id) && !/[\\/]node_modules[\\/]/.test(id)) appModules.add(id);
      }
    }
    this.#log({ level: 'information', category: 'Host.General', message: `Loaded ${files.length} file(s) from package.json "main": ${this.#definitions.size} function(s).` });
  }

  /** Registers a function without a file, with the metadata `@azure/functions` would send (tests use this). */
  register(name: string, registration: FunctionRegistration, handler: FunctionCallback): void {
    if (this.#state !== 'created') throw new Error(`Function '${name}' was registered after start().`);
    this.#add(defineFunction({ name, bindings: registration.bindings, retryOptions: registration.retryOptions }, handler));
  }

  /** Runs the appStart hooks, then listens for HTTP and starts polling blobs, queues and timers. */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new Error(`The host cannot start: it is ${this.#state}.`);
    this.#state = 'starting';
    try {
      await this.#startTriggers();
      this.#state = 'running';
      // Once the start and the first requests are behind it, so the bytecode written includes what they compiled.
      this.#moduleCacheFlush = setTimeout(() => hostModuleCache?.flush(), MODULE_CACHE_FLUSH_DELAY_MS).unref();
    } catch (err) {
      this.#state = 'running';
      await this.stop();
      throw err;
    }
  }

  /**
   * Stops accepting requests and polling, waits up to the drain timeout for running invocations,
   * runs the appTerminate hooks and closes the server.
   */
  stop(): Promise<void> {
    if (this.#state === 'created' || this.#state === 'stopped') {
      this.#state = 'stopped';
      return Promise.resolve();
    }
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #startTriggers(): Promise<void> {
    const settings = this.#prepare();
    const log = this.#log;
    const polling = this.#options.polling ?? {};
    const connections = new StorageConnections(this.#options.storageConnection);
    const hostId = this.#options.hostId ? checkHostId(this.#options.hostId) : defaultHostId();
    const invoker = (this.#invoker = new Invoker({
      log,
      hooks: this.#hooks,
      functionTimeoutMs: settings.functionTimeoutMs,
      writeOutputs: (definition, context, result) => writeQueueOutputs(definition, context, result, connections, settings.queues.messageEncoding),
    }));
    attachCoreApi(this.#receiver);
    await this.#hooks.runAppHooks('appStart', this.#options.scriptRoot);

    const enabled = [...this.#definitions.values()].filter((definition) => !isDisabled(definition.name));
    const ofType = (type: TriggerType): FunctionDefinition[] => enabled.filter((definition) => definition.trigger.type === type);
    const queuePolling = {
      minIntervalMs: polling.queueMinIntervalMs ?? 100,
      maxIntervalMs: polling.queueMaxIntervalMs ?? settings.queues.maxPollingIntervalMs,
      messageLeaseMs: polling.queueMessageLeaseMs ?? 600_000,
    };
    // Everything is constructed (and so checked) before anything starts.
    const listeners: Listener[] = [];
    if (ofType('blobTrigger').length > 0) {
      listeners.push(new BlobTriggerListener(ofType('blobTrigger'), {
        connections, settings, hostId, invoker, log, queuePolling, scanIntervalMs: polling.blobScanIntervalMs ?? 2000,
      }));
    }
    for (const definition of ofType('queueTrigger')) {
      listeners.push(createQueueTrigger(definition, { connections, settings: settings.queues, polling: queuePolling, invoker, log }));
    }
    for (const definition of ofType('timerTrigger')) {
      listeners.push(new TimerTriggerListener(definition, { connections, hostId, invoker, log }));
    }
    const routes = ofType('httpTrigger').map(httpRouteOf);
    this.#http = new HttpTriggerServer({
      routes,
      routePrefix: settings.routePrefix,
      invoker,
      log,
      maxRequestBodyBytes: this.#options.maxRequestBodyBytes ?? (Number(process.env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) || 104_857_600),
    });
    this.#port = await this.#http.listen(this.port, this.#options.hostname ?? '127.0.0.1');
    // Each listener's start is a few storage round trips of its own (containers, queues): in parallel,
    // so a cold start waits for the slowest, not their sum. One that fails stops the others in stop().
    const started = await Promise.allSettled(listeners.map(async (listener) => {
      await listener.start();
      this.#listeners.push(listener);
    }));
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;

    if (this.#definitions.size === 0) log({ level: 'warning', category: 'Host.General', message: 'No job functions found.' });
    log({ level: 'information', category: 'Host.General', message: `Host started (hostId ${hostId}, ${enabled.length} function(s), HTTP on ${this.url}).` });
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    const deadline = Date.now() + (this.#options.drainTimeoutMs ?? 30_000);
    const remaining = (): number => Math.max(0, deadline - Date.now());
    this.#http?.stopAccepting();
    await Promise.all([...this.#listeners.map((listener) => listener.stop(remaining())), this.#http?.drain(remaining())]);
    if (this.#invoker && !(await this.#invoker.drain(remaining()))) {
      this.#log({ level: 'warning', category: 'Host.General', message: `${this.#invoker.inFlightCount} invocation(s) still running after the drain timeout; stopping anyway.` });
    }
    try {
      await this.#hooks.runAppHooks('appTerminate', this.#options.scriptRoot);
    } catch (err) {
      this.#log({ level: 'error', category: 'Host.General', message: `An appTerminate hook failed: ${toError(err).message}`, error: toError(err) });
    }
    await this.#http?.close();
    clearTimeout(this.#moduleCacheFlush);
    hostModuleCache?.flush();
    this.#listeners = [];
    this.#state = 'stopped';
    this.#log({ level: 'information', category: 'Host.General', message: 'Host stopped.' });
  }

  #prepare(): HostSettings {
    if (this.#settings) return this.#settings;
    const { scriptRoot, hostJson, localSettings } = this.#options;
    if (localSettings !== false) this.#localSettings = applyLocalSettings(scriptRoot);
    const settings = hostJson !== undefined ? parseHostJson(hostJson, 'The hostJson option') : readHostJson(scriptRoot);
    this.#log = filteredLogger(this.#options.log ?? consoleLogger, settings.logLevels);
    return (this.#settings = settings);
  }

  #add(definition: FunctionDefinition): void {
    if (this.#definitions.has(definition.name)) {
      throw new Error(`A function with the name "${definition.name}" has already been registered.`);
    }
    checkTrigger(definition);
    this.#definitions.set(definition.name, definition);
  }
}

/** Trigger settings the host could only reject at start, checked at registration instead. */
function checkTrigger(definition: FunctionDefinition): void {
  const purpose = `Function '${definition.name}'`;
  switch (definition.trigger.type) {
    case 'httpTrigger':
      httpRouteOf(definition);
      break;
    case 'blobTrigger':
      parseBlobPath(resolveAppSettings(String(definition.trigger.path), purpose), purpose);
      break;
    case 'queueTrigger':
      queueNameOf(definition);
      break;
    case 'timerTrigger':
      // Its shape here; its fields when the host starts, as its listener is built (before anything starts).
      timerScheduleShape(resolveAppSettings(String(definition.trigger.schedule), purpose), definition.name);
      break;
  }
}

/** `AzureWebJobs.<name>.Disabled` (or `AzureWebJobs__<name>__Disabled`) set to true or 1. */
function isDisabled(name: string): boolean {
  const value = process.env[`AzureWebJobs.${name}.Disabled`] ?? process.env[`AzureWebJobs__${name}__Disabled`];
  return value !== undefined && /^(true|1)$/i.test(value.trim());
}

function defaultHostId(): string {
  const configured = process.env.AzureFunctionsWebHost__hostid || process.env.AzureFunctionsWebHost__hostId;
  if (configured) return checkHostId(configured);
  const sanitized = machineName()
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 32)
    .replace(/^-+|-+$/g, '');
  return sanitized || 'local-host';
}

function checkHostId(hostId: string): string {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/.test(hostId) || hostId.includes('--')) {
    throw new Error(`Host id "${hostId}" is invalid: 1-32 lowercase letters, digits and single dashes, as the Functions host requires.`);
  }
  return hostId;
}

function hostLevel(level: string): HostLogLevel {
  const lower = level.toLowerCase();
  return (['trace', 'debug', 'information', 'warning', 'error', 'critical'] as const).find((l) => l === lower) ?? 'information';
}
