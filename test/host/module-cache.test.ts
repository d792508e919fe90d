import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModuleCache } from '../../host/module-cache';

/**
 * The host's module cache, in fresh Node processes (as each host start is one): the compiled
 * `dist/host/module-cache.js` (build first) installed, then a small module graph required.
 */
const MODULE_CACHE = resolve(__dirname, '..', '..', 'dist', 'host', 'module-cache.js');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelloop-code-cache-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly output: unknown;
  readonly hits: number;
  readonly misses: number;
  readonly resolved: number;
}

/** Requires `entry` in a new process with the cache file in `dir`, flushes, and returns what it printed. */
function run(entry: string, dependencies = 'packages-1'): Run {
  const script = `const { installModuleCache, ModuleCache } = require(${JSON.stringify(MODULE_CACHE)});
const cache = installModuleCache(new ModuleCache(${JSON.stringify(join(dir, 'cache.bin'))}, process.env.DEPENDENCIES ?? ''));
let output;
try { output = require(${JSON.stringify(entry)}); } catch (err) { output = { error: err.constructor.name + ': ' + err.message }; }
cache.flush();
process.stdout.write(JSON.stringify({ output, ...cache.stats }));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, DEPENDENCIES: dependencies } })) as Run;
}

function write(name: string, source: string): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

describe('the module cache', () => {
  it('resolves and compiles a module graph as an earlier process did, giving each module what Node gives it', () => {
    write('helper.js', 'exports.twice = (n) => n * 2;\n');
    const entry = write(
      'main.js',
      [
        "const { twice } = require('./helper');",
        'module.exports = {',
        '  value: twice(21),',
        "  resolved: require('node:path').basename(require.resolve('./helper')),",
        '  filename: require("node:path").basename(__filename),',
        '  dirname: __dirname === require("node:path").dirname(__filename),',
        '  thisIsExports: this === module.exports,',
        '  cached: require.cache[__filename] === module,',
        '};',
      ].join('\n'),
    );
    const expected = { value: 42, resolved: 'helper.js', filename: 'main.js', dirname: true, thisIsExports: true, cached: true };

    // Resolved from the cache: the entry, ./helper, and require.resolve('./helper') (the first run has only the last).
    expect(run(entry)).toEqual({ output: expected, hits: 0, misses: 2, resolved: 1 });
    expect(run(entry)).toEqual({ output: expected, hits: 2, misses: 0, resolved: 3 });
  });

  it('resolves a request again when the file it resolved to is gone', () => {
    write('helper.js', 'module.exports = "file";\n');
    const entry = write('main.js', "module.exports = require('./helper');\n");
    expect(run(entry).output).toBe('file');
    rmSync(join(dir, 'helper.js'));
    mkdirSync(join(dir, 'helper'));
    write('helper/index.js', 'module.exports = "folder";\n');
    expect(run(entry)).toMatchObject({ output: 'folder', resolved: 1 });
    expect(run(entry)).toMatchObject({ output: 'folder', resolved: 2 });
  });

  it('resolves everything again when the installed packages changed', () => {
    write('helper.js', 'module.exports = 1;\n');
    const entry = write('main.js', "module.exports = require('./helper');\n");
    run(entry, 'packages-1');
    expect(run(entry, 'packages-2')).toMatchObject({ output: 1, hits: 2, resolved: 0 });
    expect(run(entry, 'packages-2')).toMatchObject({ output: 1, hits: 2, resolved: 2 });
  });

  it('compiles a module whose source changed from source, even at the same length', () => {
    const entry = write('main.js', 'module.exports = "first";\n');
    expect(run(entry).output).toBe('first');
    write('main.js', 'module.exports = "other";\n');
    expect(run(entry)).toMatchObject({ output: 'other', hits: 0, misses: 1 });
    expect(run(entry)).toMatchObject({ output: 'other', hits: 1, misses: 0 });
  });

  it('ignores a cache file it cannot read and writes a good one', () => {
    const entry = write('main.js', 'module.exports = 1;\n');
    writeFileSync(join(dir, 'cache.bin'), 'not a cache\n\u0000\u0001');
    expect(run(entry)).toMatchObject({ output: 1, hits: 0, misses: 1, resolved: 0 });
    expect(run(entry)).toMatchObject({ output: 1, hits: 1, misses: 0, resolved: 1 });
  });

  it('keeps the bytecode of a process that wrote the file after this one read it, and its own', () => {
    const file = join(dir, 'cache.bin');
    const sources = { a: 'module.exports = "a";\n', b: 'module.exports = "b";\n', c: 'module.exports = "c";\n' };
    const paths = Object.fromEntries(Object.entries(sources).map(([name, source]) => [name, write(`${name}.js`, source)])) as Record<keyof typeof sources, string>;
    const compile = (cache: ModuleCache, name: keyof typeof sources): void => void cache.compile(sources[name], paths[name]);

    const first = new ModuleCache(file, 'packages-1');
    compile(first, 'a');
    first.flush();
    // `reader` has the file open; `writer` then replaces it (written beside and renamed over).
    const reader = new ModuleCache(file, 'packages-1');
    const writer = new ModuleCache(file, 'packages-1');
    compile(writer, 'b');
    writer.flush();
    compile(reader, 'a');
    compile(reader, 'c');
    expect(reader.stats).toMatchObject({ hits: 1, misses: 1 });
    reader.flush();

    const next = new ModuleCache(file, 'packages-1');
    for (const name of ['a', 'b', 'c'] as const) compile(next, name);
    expect(next.stats).toMatchObject({ hits: 3, misses: 0 });
  });

  it('leaves a syntax error to Node, which reports it as it would without the cache', () => {
    const entry = write('broken.js', 'module.exports = {;\n');
    expect(run(entry).output).toEqual({ error: expect.stringMatching(/^SyntaxError: /) });
  });

  it('leaves a module that calls import() to Node, and caches the CommonJS module it imports', () => {
    write('lazy.js', 'module.exports = { lazy: true };\n');
    const entry = write('main.js', "module.exports = import('./lazy.js').then((m) => m.default.lazy);\n");
    const script = `const { installModuleCache, ModuleCache } = require(${JSON.stringify(MODULE_CACHE)});
const cache = installModuleCache(new ModuleCache(${JSON.stringify(join(dir, 'cache.bin'))}, process.env.DEPENDENCIES ?? ''));
require(${JSON.stringify(entry)}).then((lazy) => { cache.flush(); process.stdout.write(JSON.stringify({ lazy, ...cache.stats })); });`;
    const runOnce = (): unknown => JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    expect(runOnce()).toMatchObject({ lazy: true, hits: 0, misses: 1 });
    expect(runOnce()).toMatchObject({ lazy: true, hits: 1, misses: 0 });
  });
});
