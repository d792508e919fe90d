import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { format } from 'node:util';
import { InvocationContext, type InvocationContextInit } from '@azure/functions';
import { Disposable, type HookCallback, type HookName } from './core-api';
import { effectiveOptions, type FunctionDefinition } from './function-definition';
import { toError, type HostLogger, type HostLogLevel } from './logger';
import { formatTimeSpan } from './settings';

export interface InvocationRequest {
  /** The trigger's value: the first argument of the handler. */
  readonly input: unknown;
  /** Why it runs, worded as the real host words it (`New queue message detected on 'q'.`). */
  readonly reason: string;
  readonly triggerMetadata?: Record<string, unknown>;
}

export type InvocationOutcome =
  | { readonly succeeded: true; readonly invocationId: string; readonly result: unknown }
  | { readonly succeeded: false; readonly invocationId: string; readonly error: Error; readonly timedOut: boolean };

/** The app's hooks (`app.hook.appStart(...)` …), run with the core contexts the worker would pass. */
export class HookRegistry {
  readonly #hooks = new Map<HookName, Set<HookCallback>>();
  /** Shared by the app-level hooks, like the worker's `appHookData`. */
  readonly appHookData: Record<string, unknown> = {};

  register(name: HookName, callback: HookCallback): Disposable {
    let set = this.#hooks.get(name);
    if (!set) this.#hooks.set(name, (set = new Set()));
    set.add(callback);
    return new Disposable(() => set.delete(callback));
  }

  list(name: HookName): HookCallback[] {
    return [...(this.#hooks.get(name) ?? [])];
  }

  async runAppHooks(name: 'appStart' | 'appTerminate', functionAppDirectory: string): Promise<void> {
    for (const hook of this.list(name)) {
      await hook({ hookData: this.appHookData, appHookData: this.appHookData, functionAppDirectory });
    }
  }
}

class FunctionTimeoutError extends Error {
  constructor(functionName: string, invocationId: string, timeoutMs: number) {
    super(
      `Timeout value of ${formatTimeSpan(timeoutMs)} was exceeded by function: Functions.${functionName} (Id: '${invocationId}'). ` +
        'The local host cannot stop a running handler in-process: its work continues in the background, but the invocation counts as failed.',
    );
    this.name = 'FunctionTimeoutError';
  }
}

export interface InvokerOptions {
  readonly log: HostLogger;
  readonly hooks: HookRegistry;
  /** host.json `functionTimeout`; undefined is unlimited. */
  readonly functionTimeoutMs: number | undefined;
  /** Writes the function's output bindings after it succeeded; a failure fails the invocation. */
  readonly writeOutputs: (definition: FunctionDefinition, context: InvocationContext, result: unknown) => Promise<void>;
}

/**
 * Runs one invocation the way the worker does: a fresh `InvocationContext`, preInvocation hooks, the
 * handler (under `functionTimeout`), postInvocation hooks, output bindings, and the
 * Executing/Executed log lines. Never throws; the outcome says how it went.
 */
export class Invoker {
  readonly #options: InvokerOptions;
  readonly #inFlight = new Set<Promise<InvocationOutcome>>();

  constructor(options: InvokerOptions) {
    this.#options = options;
  }

  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  invoke(definition: FunctionDefinition, request: InvocationRequest): Promise<InvocationOutcome> {
    const running = this.#run(definition, request);
    this.#inFlight.add(running);
    void running.finally(() => this.#inFlight.delete(running));
    return running;
  }

  /** Waits until no invocation runs, or `timeoutMs` passed; true when all finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#inFlight]),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining))),
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  async #run(definition: FunctionDefinition, request: InvocationRequest): Promise<InvocationOutcome> {
    const { log, hooks } = this.#options;
    const { name } = definition;
    const invocationId = randomUUID();
    const category = `Function.${name}`;
    const started = performance.now();
    log({ level: 'information', category, functionName: name, invocationId, message: `Executing 'Functions.${name}' (Reason='${request.reason}', Id=${invocationId})` });

    const context = new InvocationContext({
      invocationId,
      functionName: name,
      triggerMetadata: request.triggerMetadata,
      options: effectiveOptions(definition) as InvocationContextInit['options'],
      logHandler: (level, ...args) => this.#userLog(definition, invocationId, context, level, args),
    });

    let outcome: InvocationOutcome;
    try {
      const pre: Record<string, unknown> = {
        hookData: {},
        appHookData: hooks.appHookData,
        invocationContext: context,
        inputs: [request.input],
        functionCallback: definition.handler,
      };
      for (const hook of hooks.list('preInvocation')) await hook(pre);

      let result: unknown;
      let error: unknown;
      try {
        const callback = pre.functionCallback as (...args: unknown[]) => unknown;
        result = await this.#withTimeout(definition, invocationId, () => callback(...(pre.inputs as unknown[]), context));
      } catch (thrown) {
        error = thrown ?? new Error('The function threw without a value.');
      }

      const post: Record<string, unknown> = { ...pre, result, error };
      for (const hook of hooks.list('postInvocation')) await hook(post);
      if (post.error !== undefined && post.error !== null) throw post.error;
      await this.#options.writeOutputs(definition, context, post.result);
      outcome = { succeeded: true, invocationId, result: post.result };
    } catch (thrown) {
      const error = toError(thrown);
      outcome = { succeeded: false, invocationId, error, timedOut: error instanceof FunctionTimeoutError };
    }

    const duration = Math.round(performance.now() - started);
    if (outcome.succeeded) {
      log({ level: 'information', category, functionName: name, invocationId, message: `Executed 'Functions.${name}' (Succeeded, Id=${invocationId}, Duration=${duration}ms)` });
    } else {
      log({ level: 'error', category, functionName: name, invocationId, message: `Executed 'Functions.${name}' (Failed, Id=${invocationId}, Duration=${duration}ms)` });
      log({ level: 'error', category, functionName: name, invocationId, error: outcome.error, message: `Exception while executing function: Functions.${name}. ${outcome.error.name}: ${outcome.error.message}` });
    }
    return outcome;
  }

  #withTimeout(definition: FunctionDefinition, invocationId: string, run: () => unknown): Promise<unknown> {
    const timeoutMs = this.#options.functionTimeoutMs;
    const running = Promise.resolve().then(run);
    if (timeoutMs === undefined) return running;
    // The handler cannot be killed in-process; after the timeout it keeps running and its result is ignored.
    // One promise and one timer per invocation: this is on every request's path.
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new FunctionTimeoutError(definition.name, invocationId, timeoutMs)), timeoutMs);
      running.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  #userLog(definition: FunctionDefinition, invocationId: string, context: InvocationContext, level: string, args: unknown[]): void {
    const entry: Record<string, unknown> = { level, message: format(...args), category: 'user', invocationContext: context, hookData: {} };
    for (const hook of this.#options.hooks.list('log')) {
      try {
        void hook(entry);
      } catch (err) {
        this.#options.log({ level: 'warning', category: 'Host.General', message: `A log hook failed: ${toError(err).message}` });
      }
    }
    const hostLevel = LEVELS[String(entry.level)];
    if (!hostLevel) return;
    this.#options.log({
      level: hostLevel,
      category: `Function.${definition.name}.User`,
      functionName: definition.name,
      invocationId,
      message: String(entry.message),
    });
  }
}

const LEVELS: Record<string, HostLogLevel | undefined> = {
  trace: 'trace',
  debug: 'debug',
  information: 'information',
  warning: 'warning',
  error: 'error',
  critical: 'critical',
};
