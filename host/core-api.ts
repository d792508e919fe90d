import Module from 'node:module';

/**
 * The `@azure/functions-core` module. In Azure the Node.js worker provides it and `@azure/functions`
 * registers every `app.http(...)`, `app.storageQueue(...)`, hook … through it. Outside the worker the
 * library finds no such module and falls back to a "test mode" that registers nothing, so the local host
 * provides it: a hook on Node's module loader answers `require('@azure/functions-core')`.
 */

/** One binding of a function as `@azure/functions` sends it to the worker. */
export interface BindingMetadata {
  readonly type: string;
  readonly direction: 'in' | 'out' | 'inout';
  readonly [option: string]: unknown;
}

/** What `app.*` registers: `toCoreFunctionMetadata` in @azure/functions. */
export interface FunctionMetadata {
  readonly name: string;
  readonly bindings: Readonly<Record<string, BindingMetadata>>;
  readonly retryOptions?: unknown;
}

// Handlers are typed per trigger by @azure/functions; the host calls them with what each trigger gives.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FunctionCallback = (...args: any[]) => unknown;

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookCallback = (coreContext: Record<string, unknown>) => unknown;

/** What a host implements to receive the app's registrations. */
export interface CoreApiReceiver {
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): void;
  registerHook(name: HookName, callback: HookCallback): Disposable;
  systemLog(level: string, message: string): void;
}

/** The worker's `Disposable`, which `app.hook.*` return. */
export class Disposable {
  static from(...inDisposables: { dispose(): unknown }[]): Disposable {
    let disposables: { dispose(): unknown }[] | undefined = inDisposables;
    return new Disposable(() => {
      for (const disposable of disposables ?? []) disposable.dispose();
      disposables = undefined;
    });
  }

  #callOnDispose: (() => unknown) | undefined;

  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): void {
    this.#callOnDispose?.();
    this.#callOnDispose = undefined;
  }
}

interface ShimState {
  /** The host whose app is (or was last) loaded; hooks registered later go to it. */
  receiver: CoreApiReceiver | undefined;
  /** Functions may be registered only while an app loads, as in the worker. */
  loading: boolean;
  programmingModel: unknown;
  readonly api: object;
}

// One state per process, even if this file is evaluated twice (test runners re-evaluate modules), because
// `@azure/functions` caches the first core API object it gets.
const STATE_KEY = Symbol.for('modelloop.local-host.functions-core');

function shimState(): ShimState {
  const global = globalThis as typeof globalThis & { [STATE_KEY]?: ShimState };
  return (global[STATE_KEY] ??= createShimState());
}

function createShimState(): ShimState {
  const state: ShimState = {
    receiver: undefined,
    loading: false,
    programmingModel: undefined,
    api: {
      version: '4.0.0-modelloop-local',
      Disposable,
      registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
        if (!state.loading || !state.receiver) {
          throw new Error(`Function "${metadata?.name}" was registered after app startup; register functions at the top level of the files in package.json "main".`);
        }
        state.receiver.registerFunction(metadata, callback);
        return new Disposable(() => undefined);
      },
      setProgrammingModel(model: unknown): void {
        state.programmingModel = model;
      },
      getProgrammingModel(): unknown {
        return state.programmingModel;
      },
      registerHook(name: HookName, callback: HookCallback): Disposable {
        // A function file imported outside any host (a test calling its handler) registers nothing, as in
        // the library's own test mode; it must not fail to import.
        if (!state.receiver) return new Disposable(() => undefined);
        return state.receiver.registerHook(name, callback);
      },
      log(level: string, _category: string, message: string): void {
        if (state.receiver) state.receiver.systemLog(level, message);
        else console.log(message);
      },
    },
  };
  const loader = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
  const originalLoad = loader._load;
  loader._load = function load(this: unknown, request: string, parent: unknown, isMain: boolean): unknown {
    if (request === '@azure/functions-core') return state.api;
    return originalLoad.call(this, request, parent, isMain);
  };
  return state;
}

/** Runs `load` (which requires the app's files) with `receiver` collecting what they register. */
export function loadWithCoreApi<T>(receiver: CoreApiReceiver, load: () => T): T {
  const state = shimState();
  state.receiver = receiver;
  state.loading = true;
  try {
    return load();
  } finally {
    state.loading = false;
  }
}

/** Makes `receiver` the target of hooks registered outside a load (e.g. inside an appStart hook). */
export function attachCoreApi(receiver: CoreApiReceiver): void {
  shimState().receiver = receiver;
}

/** Installs the module hook now, so that `@azure/functions` never falls back to test mode. */
export function installCoreApi(): void {
  shimState();
}
