import type { InvocationContext } from '@azure/functions';

/** What use cases log through: the invocation context under the Functions host, the console elsewhere. */
export interface Logger {
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

export const consoleLogger: Logger = {
  info: (message, ...details) => console.log(message, ...details),
  warn: (message, ...details) => console.warn(message, ...details),
  error: (message, ...details) => console.error(message, ...details),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** Adapts an invocation context to the use cases' logger, so lines carry the invocation id. */
export function loggerOf(context: InvocationContext): Logger {
  return {
    info: (m, ...d) => context.log(m, ...d),
    warn: (m, ...d) => context.warn(m, ...d),
    error: (m, ...d) => context.error(m, ...d),
  };
}
