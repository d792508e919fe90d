import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const PROJECT_ROOT = join(__dirname, '..', '..');

/**
 * The compiled script of a worker thread or child process that lives beside the calling module (`directory` is its
 * `__dirname`, `file` the worker's `.js` name). In the build that is the file beside it; under
 * vitest the caller is TypeScript source, so it is the copy `npm run build` wrote to `dist/`.
 * Undefined when neither exists.
 */
export function compiledWorker(directory: string, file: string): string | undefined {
  const beside = join(directory, file);
  if (existsSync(beside)) return beside;
  const compiled = join(PROJECT_ROOT, 'dist', relative(PROJECT_ROOT, directory), file);
  return existsSync(compiled) ? compiled : undefined;
}
