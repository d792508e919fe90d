/** Log levels, named as the Functions host and `InvocationContext` name them. */
export type HostLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical';

export interface HostLogEntry {
  readonly level: HostLogLevel;
  /**
   * The category the real host would use: `Host.General`, `Host.Triggers.Queue`, `Function.<name>`
   * (Executing/Executed lines), `Function.<name>.User` (the function's own `context.log`).
   */
  readonly category: string;
  readonly message: string;
  readonly functionName?: string;
  readonly invocationId?: string;
  readonly error?: Error;
}

/** Where the host writes its log. */
export type HostLogger = (entry: HostLogEntry) => void;

const LEVEL_ORDER: Record<HostLogLevel | 'none', number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

/** Writes one line per entry, timestamped like Core Tools; errors and warnings go to stderr. */
export const consoleLogger: HostLogger = (entry) => {
  const line = `[${new Date().toISOString()}] ${entry.message}`;
  const detail = entry.error?.stack && !entry.message.includes(entry.error.stack) ? `\n${entry.error.stack}` : '';
  if (entry.level === 'error' || entry.level === 'critical') console.error(line + detail);
  else if (entry.level === 'warning') console.warn(line + detail);
  else console.log(line);
};

/**
 * Applies host.json `logging.logLevel` (longest matching category prefix, else `default`, else
 * `information`) before handing entries to the logger.
 */
export function filteredLogger(logger: HostLogger, levels: Readonly<Record<string, HostLogLevel | 'none'>>): HostLogger {
  const rules = Object.entries(levels)
    .filter(([category]) => category.toLowerCase() !== 'default')
    .sort(([a], [b]) => b.length - a.length);
  const fallback = Object.entries(levels).find(([category]) => category.toLowerCase() === 'default')?.[1] ?? 'information';
  // Categories are few (one per function and trigger), so each one's level is looked up once.
  const minimums = new Map<string, number>();
  return (entry) => {
    let minimum = minimums.get(entry.category);
    if (minimum === undefined) {
      const rule = rules.find(([prefix]) => entry.category === prefix || entry.category.startsWith(`${prefix}.`));
      minimum = LEVEL_ORDER[rule?.[1] ?? fallback];
      if (minimums.size < 1024) minimums.set(entry.category, minimum);
    }
    if (LEVEL_ORDER[entry.level] >= minimum) logger(entry);
  };
}

/** `ensureErrorType` in the spirit of @azure/functions: anything thrown becomes an Error. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : safeStringify(thrown));
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
