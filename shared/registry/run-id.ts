import { createHash } from 'node:crypto';

/** The run document id of an idempotency key: one run per key, ever. */
export function runIdOf(key: string): string {
  return `run-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}
