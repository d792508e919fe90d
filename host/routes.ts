/**
 * ASP.NET Core route templates, as the Functions host uses them for HTTP triggers:
 * `models/{model}/predict`, optional `{version?}`, defaults `{alias=production}`, constraints
 * `{version:int}` / `{id:range(1,9)}` / `{code:regex(^[a-z]{{2}}$)}`, catch-all `{*path}`, and complex
 * segments such as `{file}.{ext}`. Literals match case-insensitively; parameter values are URL-decoded.
 */

export interface RouteTemplate {
  readonly text: string;
  /** Lower is tried first (ASP.NET inbound precedence: literal < complex < constrained < parameter < catch-all). */
  readonly precedence: number;
  readonly parameterNames: readonly string[];
  /**
   * The first segment, lower-cased, when it is an ASCII literal that every matching path starts with
   * (`models` of `models/{model}/predict`): the route table looks routes up by it.
   */
  readonly firstLiteral?: string;
  /** Fewest and most path segments a matching path has (Infinity after a catch-all). */
  readonly segments?: { readonly min: number; readonly max: number };
  /** Matches a path without leading or trailing slashes and without the route prefix. */
  match(path: string): Record<string, string> | undefined;
}

interface Parameter {
  readonly name: string;
  readonly optional: boolean;
  readonly catchAll: boolean;
  readonly defaultValue: string | undefined;
  readonly constraints: readonly Constraint[];
}

interface Constraint {
  readonly text: string;
  test(value: string): boolean;
}

type Part = { readonly literal: string } | { readonly parameter: Parameter };

export class RouteTemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`Invalid route template "${template}": ${problem}`);
    this.name = 'RouteTemplateError';
  }
}

export function parseRouteTemplate(text: string): RouteTemplate {
  const fail = (problem: string): never => {
    throw new RouteTemplateError(text, problem);
  };
  const trimmed = text.replace(/^~?\//, '').replace(/\/$/, '');
  const segments = trimmed === '' ? [] : splitSegments(trimmed).map((segment) => parseSegment(segment, fail));

  const names: string[] = [];
  for (const [index, parts] of segments.entries()) {
    if (parts.length === 0) fail('empty segment ("//")');
    for (const part of parts) {
      if (!('parameter' in part)) continue;
      const { name, optional, catchAll } = part.parameter;
      if (names.some((n) => n.toLowerCase() === name.toLowerCase())) fail(`parameter "${name}" appears twice`);
      names.push(name);
      if (catchAll && (index !== segments.length - 1 || parts.length !== 1)) fail(`catch-all "{*${name}}" must be the whole last segment`);
      if (optional && parts.length !== 1) fail(`optional "{${name}?}" must be a whole segment`);
    }
  }
  // A missing optional segment may only be followed by other missing ones.
  const firstOptional = segments.findIndex((parts) => isSkippable(parts));
  if (firstOptional >= 0 && segments.slice(firstOptional).some((parts) => !isSkippable(parts))) {
    fail('an optional parameter can be followed only by optional parameters');
  }

  let source = '^';
  for (const [index, parts] of segments.entries()) {
    const slash = index === 0 ? '' : '/';
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only && 'parameter' in only && only.parameter.catchAll) {
      source += index === 0 ? '(.*)' : '(?:/(.*))?';
    } else if (only && 'parameter' in only && isSkippable(parts)) {
      source += `(?:${slash}([^/]+))?`;
    } else {
      source += slash;
      // Greedy captures split a complex segment at its last literal, as ASP.NET does: {name}.{ext} on a.b.c → a.b + c.
      for (const part of parts) source += 'literal' in part ? escapeRegExp(part.literal) : '([^/]+)';
    }
  }
  const regex = new RegExp(`${source}$`, 'i');
  const parameters = segments.flat().flatMap((part) => ('parameter' in part ? [part.parameter] : []));

  const head = segments[0]?.length === 1 ? segments[0][0] : undefined;
  const firstLiteral = head && 'literal' in head && /^[\x20-\x7e]*$/.test(head.literal) ? head.literal.toLowerCase() : undefined;

  return {
    text,
    precedence: precedenceOf(segments),
    parameterNames: names,
    firstLiteral,
    segments: segmentRange(segments),
    match(path) {
      const found = regex.exec(path);
      if (!found) return undefined;
      const values: Record<string, string> = {};
      for (const [i, parameter] of parameters.entries()) {
        const raw = found[i + 1];
        const value = raw === undefined || raw === '' ? parameter.defaultValue : decodeSegment(raw, parameter.catchAll);
        if (value === undefined) {
          if (parameter.optional || parameter.catchAll) continue;
          return undefined;
        }
        if (raw !== undefined && raw !== '' && !parameter.constraints.every((constraint) => constraint.test(value))) return undefined;
        values[parameter.name] = value;
      }
      return values;
    },
  };
}

function segmentRange(segments: readonly Part[][]): { min: number; max: number } {
  // Skippable segments (optional, defaulted, catch-all) come only at the end, so the rest are always there.
  const min = segments.filter((parts) => !isSkippable(parts)).length;
  const last = segments.at(-1);
  const only = last?.length === 1 ? last[0] : undefined;
  const max = only && 'parameter' in only && only.parameter.catchAll ? Infinity : segments.length;
  return { min, max };
}

function isSkippable(parts: readonly Part[]): boolean {
  const only = parts.length === 1 ? parts[0] : undefined;
  return !!only && 'parameter' in only && (only.parameter.optional || only.parameter.catchAll || only.parameter.defaultValue !== undefined);
}

/** Splits on "/" outside braces (a regex constraint may contain "/"). */
function splitSegments(template: string): string[] {
  const segments: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < template.length; i++) {
    const char = template[i] as string;
    if (depth === 0 && (template.startsWith('{{', i) || template.startsWith('}}', i))) {
      current += template.slice(i, i + 2);
      i++;
      continue;
    }
    if (char === '{') depth++;
    if (char === '}') depth--;
    if (char === '/' && depth === 0) {
      segments.push(current);
      current = '';
    } else current += char;
  }
  segments.push(current);
  return segments;
}

function parseSegment(segment: string, fail: (problem: string) => never): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < segment.length) {
    if (segment.startsWith('{{', i) || segment.startsWith('}}', i)) {
      literal += segment[i];
      i += 2;
    } else if (segment[i] === '{') {
      const end = findParameterEnd(segment, i);
      if (end < 0) fail(`unclosed "{" in "${segment}"`);
      if (literal) parts.push({ literal });
      literal = '';
      if (parts.length > 0 && 'parameter' in (parts[parts.length - 1] as Part)) fail(`two parameters in "${segment}" need a literal between them`);
      parts.push({ parameter: parseParameter(segment.slice(i + 1, end).replace(/\{\{/g, '{').replace(/\}\}/g, '}'), fail) });
      i = end + 1;
    } else if (segment[i] === '}') {
      fail(`unmatched "}" in "${segment}"`);
    } else {
      if (segment[i] === '?') fail(`"?" in "${segment}" is only allowed at the end of a parameter`);
      literal += segment[i];
      i++;
    }
  }
  if (literal) parts.push({ literal });
  return parts;
}

/** Index of the "}" closing the parameter opened at `start`; "}}" inside is an escaped brace. */
function findParameterEnd(segment: string, start: number): number {
  for (let i = start + 1; i < segment.length; i++) {
    if (segment.startsWith('}}', i) || segment.startsWith('{{', i)) {
      i++;
      continue;
    }
    if (segment[i] === '}') return i;
  }
  return -1;
}

function parseParameter(body: string, fail: (problem: string) => never): Parameter {
  let rest = body;
  const catchAll = /^\*{1,2}/.test(rest);
  rest = rest.replace(/^\*{1,2}/, '');
  let optional = false;
  let defaultValue: string | undefined;
  const pieces = splitConstraints(rest);
  let last = pieces.pop() ?? '';
  const defaultAt = last.indexOf('=');
  if (defaultAt >= 0) {
    defaultValue = last.slice(defaultAt + 1);
    last = last.slice(0, defaultAt);
  }
  if (last.endsWith('?')) {
    optional = true;
    last = last.slice(0, -1);
  }
  pieces.push(last);
  const [name = '', ...constraintTexts] = pieces;
  if (!/^[^{}/?*=:.\s][^{}/?*=:\s]*$/.test(name)) fail(`"{${body}}" has no valid parameter name`);
  if (optional && defaultValue !== undefined) fail(`"{${body}}" cannot be both optional and have a default`);
  if (catchAll && optional) fail(`a catch-all "{${body}}" is already optional`);
  return { name, optional, catchAll, defaultValue, constraints: constraintTexts.map((text) => parseConstraint(text, name, fail)) };
}

/** Splits `name:int:range(1,5)` on ":" outside parentheses. */
function splitConstraints(text: string): string[] {
  const pieces: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ':' && depth === 0) {
      pieces.push(current);
      current = '';
    } else current += char;
  }
  pieces.push(current);
  return pieces;
}

const INTEGER = /^-?\d+$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const GUID = /^[{(]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[)}]?$/i;

function parseConstraint(text: string, parameter: string, fail: (problem: string) => never): Constraint {
  const found = /^([a-zA-Z]+)(?:\((.*)\))?$/s.exec(text);
  if (!found) return fail(`constraint "${text}" on "${parameter}" is malformed`);
  const kind = (found[1] as string).toLowerCase();
  const argument = found[2];
  const numbers = (argument ?? '').split(',').map((s) => Number(s.trim()));
  const needs = (count: number): void => {
    if (argument === undefined || numbers.length !== count || numbers.some((n) => !Number.isFinite(n))) {
      fail(`constraint "${text}" on "${parameter}" needs ${count} number${count > 1 ? 's' : ''}`);
    }
  };
  const make = (test: (value: string) => boolean): Constraint => ({ text, test });
  const [a = 0, b = 0] = numbers;
  switch (kind) {
    case 'int':
      return make((v) => INTEGER.test(v) && Math.abs(Number(v)) <= 2 ** 31);
    case 'long':
      return make((v) => INTEGER.test(v));
    case 'bool':
      return make((v) => /^(true|false)$/i.test(v));
    case 'guid':
      return make((v) => GUID.test(v));
    case 'datetime':
      return make((v) => !Number.isNaN(Date.parse(v)));
    case 'decimal':
    case 'double':
    case 'float':
      return make((v) => NUMBER.test(v));
    case 'alpha':
      return make((v) => /^[a-z]+$/i.test(v));
    case 'required':
      return make((v) => v !== '');
    case 'min':
      needs(1);
      return make((v) => INTEGER.test(v) && Number(v) >= a);
    case 'max':
      needs(1);
      return make((v) => INTEGER.test(v) && Number(v) <= a);
    case 'range':
      needs(2);
      return make((v) => INTEGER.test(v) && Number(v) >= a && Number(v) <= b);
    case 'minlength':
      needs(1);
      return make((v) => v.length >= a);
    case 'maxlength':
      needs(1);
      return make((v) => v.length <= a);
    case 'length':
      if (numbers.length === 2) {
        needs(2);
        return make((v) => v.length >= a && v.length <= b);
      }
      needs(1);
      return make((v) => v.length === a);
    case 'regex': {
      if (argument === undefined) return fail(`constraint "${text}" on "${parameter}" needs a pattern`);
      let pattern: RegExp;
      try {
        pattern = new RegExp(argument, 'i');
      } catch (err) {
        return fail(`regex in "${text}" is invalid: ${(err as Error).message}`);
      }
      return make((v) => pattern.test(v));
    }
    default:
      return fail(`unknown constraint "${kind}" on "${parameter}"`);
  }
}

function precedenceOf(segments: readonly Part[][]): number {
  let precedence = 0;
  for (const [index, parts] of segments.entries()) {
    const only = parts.length === 1 ? parts[0] : undefined;
    let digit: number;
    if (only && 'literal' in only) digit = 1;
    else if (!only) digit = 2;
    else if ('parameter' in only && only.parameter.catchAll) digit = 5;
    else if ('parameter' in only && only.parameter.constraints.length > 0) digit = 3;
    else digit = 4;
    precedence += digit / 10 ** (index + 1);
  }
  return precedence;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function decodeSegment(raw: string, keepSlashes: boolean): string {
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return keepSlashes ? raw.split('/').map(decode).join('/') : decode(raw);
}

/** The result of looking a request up in a {@link RouteTable}. */
export type RouteLookup<T> =
  | { readonly kind: 'found'; readonly value: T; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly allowed: readonly string[] }
  | { readonly kind: 'not-found' };

interface RouteEntry<T> {
  readonly template: RouteTemplate;
  /** Upper-case methods; undefined accepts every method. */
  readonly methods: ReadonlySet<string> | undefined;
  readonly value: T;
  readonly order: number;
}

/** Routes ordered by precedence, then registration order, matched against a request path and method. */
export class RouteTable<T> {
  readonly #entries: RouteEntry<T>[] = [];
  /**
   * Per first path segment (lower-cased), the entries that can match a path starting with it, in table
   * order: those whose template starts with that literal, and those whose first segment is not a literal.
   * Built on first lookup, so a request tries a handful of routes rather than every one.
   */
  #byFirstSegment: Map<string, readonly RouteEntry<T>[]> | undefined;
  #anyFirstSegment: readonly RouteEntry<T>[] = [];

  add(template: RouteTemplate, methods: readonly string[] | undefined, value: T): void {
    const upper = methods && methods.length > 0 ? new Set(methods.map((m) => m.toUpperCase())) : undefined;
    this.#entries.push({ template, methods: upper, value, order: this.#entries.length });
    this.#entries.sort((x, y) => x.template.precedence - y.template.precedence || x.order - y.order);
    this.#byFirstSegment = undefined;
  }

  /** `path` is the request path after the route prefix, without leading or trailing slashes. */
  lookup(method: string, path: string): RouteLookup<T> {
    const slash = path.indexOf('/');
    const first = (slash < 0 ? path : path.slice(0, slash)).toLowerCase();
    const candidates = this.#index().get(first) ?? this.#anyFirstSegment;
    let count = path === '' ? 0 : 1;
    for (let at = slash; at >= 0; at = path.indexOf('/', at + 1)) count++;
    const upper = method.toUpperCase();
    let allowed: Set<string> | undefined;
    for (const entry of candidates) {
      const range = entry.template.segments;
      if (range && (count < range.min || count > range.max)) continue;
      const params = entry.template.match(path);
      if (!params) continue;
      if (!entry.methods || entry.methods.has(upper)) return { kind: 'found', value: entry.value, params };
      allowed ??= new Set<string>();
      for (const m of entry.methods) allowed.add(m);
    }
    return allowed ? { kind: 'method-not-allowed', allowed: [...allowed] } : { kind: 'not-found' };
  }

  #index(): Map<string, readonly RouteEntry<T>[]> {
    if (this.#byFirstSegment) return this.#byFirstSegment;
    const index = new Map<string, readonly RouteEntry<T>[]>();
    for (const literal of new Set(this.#entries.map((entry) => entry.template.firstLiteral))) {
      if (literal !== undefined) index.set(literal, this.#entries.filter((entry) => entry.template.firstLiteral === undefined || entry.template.firstLiteral === literal));
    }
    this.#anyFirstSegment = this.#entries.filter((entry) => entry.template.firstLiteral === undefined);
    return (this.#byFirstSegment = index);
  }
}
