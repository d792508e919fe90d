/**
 * Machine-readable codes of every error modelloop reports to a caller. Each maps to one HTTP
 * status, in `HTTP_STATUS` below; the message says what to fix.
 */
export type ModelloopErrorCode =
  /** The request body or a parameter is malformed: not JSON, wrong shape, bad name. */
  | 'InvalidInput'
  /** A model definition does not satisfy the definition schema. */
  | 'InvalidDefinition'
  /** No model of that name is defined. */
  | 'ModelNotFound'
  /** The model exists but has no version to serve for the request (no alias, unknown version). */
  | 'VersionNotFound'
  /** Data does not satisfy the model's data contract (missing column, wrong type, out of range). */
  | 'SchemaViolation'
  /** A file is not in a supported format, or cannot be parsed. */
  | 'UnsupportedFormat'
  /** The request is larger than the configured limit. */
  | 'PayloadTooLarge'
  /** A concurrent change won; read again and retry. */
  | 'Conflict'
  /** A part of the stack the request needs is not reachable. */
  | 'ServiceUnavailable'
  /** A bug: the message is logged with the invocation id. */
  | 'InternalError';

export const HTTP_STATUS: Readonly<Record<ModelloopErrorCode, number>> = {
  InvalidInput: 400,
  InvalidDefinition: 400,
  SchemaViolation: 400,
  UnsupportedFormat: 415,
  ModelNotFound: 404,
  VersionNotFound: 404,
  PayloadTooLarge: 413,
  Conflict: 409,
  ServiceUnavailable: 503,
  InternalError: 500,
};

/** One problem with input, shaped like a zod issue so reports and replies read the same. */
export interface Problem {
  /** Where: field path, or `[row, column]` for data. */
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly expected?: string;
  readonly received?: string;
}

export class ModelloopError extends Error {
  override readonly name = 'ModelloopError';
  constructor(
    readonly code: ModelloopErrorCode,
    message: string,
    readonly problems: readonly Problem[] = [],
  ) {
    super(message);
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

export function isModelloopError(value: unknown): value is ModelloopError {
  return value instanceof ModelloopError;
}

/** Normalises anything thrown into an Error, so logs never print `[object Object]`. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  try {
    return new Error(typeof value === 'string' ? value : JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}

/** Turns zod issues into problems that name the field. */
export function problemsFromZod(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Problem[] {
  return issues.map((issue) => ({
    path: issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
    message: issue.message,
  }));
}

/** `features.color.type: Invalid option …; target: Required` */
export function describeProblems(problems: readonly Problem[], limit = 5): string {
  const shown = problems.slice(0, limit).map((p) => (p.path.length ? `${p.path.join('.')}: ${p.message}` : p.message));
  const more = problems.length > limit ? ` (and ${problems.length - limit} more)` : '';
  return shown.join('; ') + more;
}
