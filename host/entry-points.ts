import { existsSync, readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * The files the Node.js worker loads: package.json `main`, which may be a glob
 * (`dist/functions/*.js`, `dist/src/{index.js,functions/*.js}`, `dist/**\/*.js`). Sorted, absolute.
 */
export function resolveEntryPoints(scriptRoot: string): string[] {
  const packageFile = join(scriptRoot, 'package.json');
  if (!existsSync(packageFile)) throw new Error(`No package.json in ${scriptRoot}; its "main" names the function files.`);
  let main: unknown;
  try {
    main = (JSON.parse(readFileSync(packageFile, 'utf8')) as { main?: unknown }).main;
  } catch (err) {
    throw new Error(`${packageFile} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof main !== 'string' || main.trim() === '') {
    throw new Error(`${packageFile} has no "main". Set it to the compiled function files, e.g. "dist/functions/*.js".`);
  }
  const files = new Set<string>();
  for (const pattern of expandBraces(main.trim().replace(/\\/g, '/').replace(/^\.\//, ''))) {
    for (const file of matchGlob(resolve(scriptRoot), pattern)) files.add(file);
  }
  if (files.size === 0) {
    throw new Error(`package.json "main" ("${main}") matches no file under ${scriptRoot}. Did the build run (npm run build)?`);
  }
  return [...files].sort();
}

/** `a/{b,c}/d` → `a/b/d`, `a/c/d` (nested braces too). */
function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  for (let i = open; i < pattern.length; i++) {
    if (pattern[i] === '{') depth++;
    else if (pattern[i] === '}' && --depth === 0) {
      const alternatives = splitTopLevel(pattern.slice(open + 1, i));
      return alternatives.flatMap((alternative) => expandBraces(pattern.slice(0, open) + alternative + pattern.slice(i + 1)));
    }
  }
  return [pattern];
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '{') depth++;
    if (char === '}') depth--;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

function matchGlob(root: string, pattern: string): string[] {
  const segments = pattern.split('/').filter((segment) => segment !== '' && segment !== '.');
  const found: string[] = [];
  const walk = (dir: string, index: number): void => {
    const segment = segments[index];
    if (segment === undefined) return;
    const last = index === segments.length - 1;
    if (segment === '**') {
      walk(dir, index + 1);
      for (const entry of entries(dir)) {
        if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) walk(join(dir, entry.name), index);
      }
      return;
    }
    if (!/[*?[]/.test(segment)) {
      const path = join(dir, segment);
      if (last ? isFile(path) : isDirectory(path)) {
        if (last) found.push(path);
        else walk(path, index + 1);
      }
      return;
    }
    const regex = segmentRegex(segment);
    for (const entry of entries(dir)) {
      if (!regex.test(entry.name) || (entry.name.startsWith('.') && !segment.startsWith('.'))) continue;
      const path = join(dir, entry.name);
      if (last && entry.isFile()) found.push(path);
      else if (!last && entry.isDirectory()) walk(path, index + 1);
    }
  };
  walk(root, 0);
  return found.filter((file) => !relative(root, file).startsWith('..'));
}

function segmentRegex(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i] as string;
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const end = segment.indexOf(']', i);
      if (end < 0) source += '\\[';
      else {
        source += `[${segment.slice(i + 1, end).replace(/^!/, '^')}]`;
        i = end;
      }
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
