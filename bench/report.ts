import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const FILE = join(resolve(__dirname, '..', '..'), 'docs', 'benchmarks.md');
const HEADER = `# Benchmarks

Each section is written by one script under \`bench/\` (\`npm run bench\` runs them all; each can run
alone) and says when and how it was measured. Every figure stands beside a baseline measured in the
same run; medians with their spread. Timings are never asserted in tests.
`;

/**
 * Replaces one `## ` section of docs/benchmarks.md (or appends it), keeping every other section:
 * each benchmark owns its section and can be re-run alone.
 */
export function writeSection(title: string, body: string): void {
  const heading = `## ${title}`;
  const current = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  const section = `${heading}\n\n${body.trim()}\n`;
  const start = current.indexOf(`${heading}\n`);
  let next: string;
  if (start < 0) next = `${current.trimEnd()}\n\n${section}`;
  else {
    const after = current.indexOf('\n## ', start + heading.length);
    next = current.slice(0, start) + section + (after < 0 ? '' : `\n${current.slice(after + 1)}`);
  }
  writeFileSync(FILE, next.trimEnd() + '\n');
}

/** Median and the 10th–90th percentile of a sample. */
export function spread(samples: readonly number[]): { median: number; p10: number; p90: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) };
}
