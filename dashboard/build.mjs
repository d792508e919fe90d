// Copies the dashboard's static assets into dist/dashboard, where functions/dashboard.ts serves them.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'dashboard');
mkdirSync(out, { recursive: true });
for (const file of readdirSync(here)) {
  if (/\.(html|js|css|svg)$/.test(file)) cpSync(join(here, file), join(out, file));
}
