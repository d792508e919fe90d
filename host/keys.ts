import { timingSafeEqual } from 'node:crypto';
import type { AuthLevel } from './http-trigger';

/**
 * The keys the local host checks, from app settings (comma-separated):
 * `MODELLOOP_FUNCTION_KEYS` open `function`-level routes, `MODELLOOP_ADMIN_KEYS` open every route
 * (like the master key in Azure). With neither set nothing is checked, as under Core Tools.
 */
export interface HostKeys {
  readonly function: readonly string[];
  readonly admin: readonly string[];
}

export const FUNCTION_KEYS_SETTING = 'MODELLOOP_FUNCTION_KEYS';
export const ADMIN_KEYS_SETTING = 'MODELLOOP_ADMIN_KEYS';

export function hostKeysFrom(env: NodeJS.ProcessEnv): HostKeys {
  const list = (value: string | undefined): string[] => (value ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '');
  return { function: list(env[FUNCTION_KEYS_SETTING]), admin: list(env[ADMIN_KEYS_SETTING]) };
}

export function keysEnforced(keys: HostKeys): boolean {
  return keys.function.length > 0 || keys.admin.length > 0;
}

/** The key a request presents: the `x-functions-key` header, else the `code` query parameter, as in Azure. */
export function presentedKey(headers: { readonly [name: string]: string | string[] | undefined }, query: URLSearchParams): string | undefined {
  const header = headers['x-functions-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value || query.get('code') || undefined;
}

/** Anonymous routes always pass; admin keys pass every level; function keys pass `function` only. */
export function authorized(level: AuthLevel, keys: HostKeys, presented: string | undefined): boolean {
  if (level === 'anonymous' || !keysEnforced(keys)) return true;
  if (presented === undefined) return false;
  if (keys.admin.some((key) => sameKey(key, presented))) return true;
  return level === 'function' && keys.function.some((key) => sameKey(key, presented));
}

// Constant time, so a key cannot be guessed a character at a time from response timings.
function sameKey(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
