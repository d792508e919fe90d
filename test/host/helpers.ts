import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { HostLogEntry, HostLogger } from '../../host/logger';

export const APP_FIXTURE = join(__dirname, 'fixtures', 'app');
export const UNSUPPORTED_FIXTURE = join(__dirname, 'fixtures', 'unsupported');

/** A container/queue/host id unique to this test (Azurite is shared by every test file). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** A logger that keeps entries for assertions instead of printing them. */
export function collectingLogger(): { log: HostLogger; entries: HostLogEntry[]; messages: () => string[] } {
  const entries: HostLogEntry[] = [];
  return { log: (entry) => entries.push(entry), entries, messages: () => entries.map((entry) => entry.message) };
}

/** Polls `probe` until it returns something truthy (or stops throwing), failing after `timeoutMs`. */
export async function eventually<T>(probe: () => T | Promise<T>, timeoutMs = 20_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw lastError instanceof Error ? lastError : new Error(`Condition not met within ${timeoutMs} ms: ${probe.toString()}`);
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fast polling for tests; production defaults are seconds to a minute. */
export const FAST_POLLING = { blobScanIntervalMs: 200, queueMinIntervalMs: 50, queueMaxIntervalMs: 250 } as const;
