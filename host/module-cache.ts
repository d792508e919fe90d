import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { constants as vmConstants, Script } from 'node:vm';
import { crc32 } from 'node:zlib';

export interface ModuleCacheStats {
  /** Modules compiled from cached bytecode. */
  readonly hits: number;
  /** Modules compiled from source: new, changed, or rejected by V8. */
  readonly misses: number;
  /** `require` requests answered from the cached resolutions. */
  readonly resolved: number;
}

interface Bytecode {
  readonly crc: number;
  readonly data: Buffer;
}

interface Compiled {
  readonly crc: number;
  readonly script: Script;
}

interface CacheFile {
  /** What the resolutions were found under; they are dropped when it changes. */
  readonly dependencies: string;
  readonly bytecode: Map<string, Bytecode>;
  /** `{directory of the requiring module}\0{request}` → the file Node resolved it to. */
  readonly resolutions: Map<string, string>;
}

const MAGIC = 'modelloop-module-cache-1';

/**
 * What Node's CommonJS loader works out afresh on every start, kept in one file between starts: where
 * each `require` resolves to, and the V8 bytecode of each module. A cold host spends most of its start
 * there: some 800 modules (the Storage and Cosmos SDKs, zod, the app), each found by a walk of stats,
 * realpaths and package.json reads, then parsed and compiled. Node 20 has no `module.enableCompileCache`
 * (Node 22 has), so `installModuleCache` replaces the loader's `Module._resolveFilename` and
 * `Module.prototype._compile`.
 *
 * A resolution is reused while its file exists and the installed packages are the same (npm rewrites
 * `node_modules/.package-lock.json` on every install); bytecode while the module's source has the same
 * CRC-32 (V8 itself only compares the source length) and V8 accepts it (same Node version and flags).
 * Anything else is worked out as Node does and written at the next `flush()`, bytecode after its module
 * has run, so that it includes the functions compiled lazily while it ran.
 */
export class ModuleCache {
  readonly #file: string;
  readonly #dependencies: string;
  #bytecode: Map<string, Bytecode>;
  #resolutions: Map<string, string>;
  /** Compiled from source in this process: their bytecode is written at the next flush. */
  readonly #fresh = new Map<string, Compiled>();
  #resolutionsChanged = false;
  #hits = 0;
  #misses = 0;
  #resolved = 0;

  /** @param dependencies what resolutions depend on besides the files themselves, e.g. the installed packages' lockfile */
  constructor(file: string, dependencies: string) {
    this.#file = file;
    this.#dependencies = dependencies;
    const cached = readCacheFile(file);
    this.#bytecode = cached.bytecode;
    this.#resolutions = cached.dependencies === dependencies ? cached.resolutions : new Map();
  }

  get file(): string {
    return this.#file;
  }

  get stats(): ModuleCacheStats {
    return { hits: this.#hits, misses: this.#misses, resolved: this.#resolved };
  }

  /** The file `request` from a module in `directory` resolves to: the cached one while it exists, else `resolve()`'s. */
  resolve(directory: string, request: string, resolve: () => string): string {
    const key = `${directory}\0${request}`;
    const cached = this.#resolutions.get(key);
    if (cached !== undefined && existsSync(cached)) {
      this.#resolved++;
      return cached;
    }
    const filename = resolve();
    this.#resolutions.set(key, filename);
    this.#resolutionsChanged = true;
    return filename;
  }

  /** The module wrapper of `source`, compiled with its cached bytecode when that still fits. */
  compile(source: string, filename: string): Script {
    const crc = crc32(source);
    const entry = this.#bytecode.get(filename);
    const cachedData = entry?.crc === crc ? entry.data : undefined;
    const script = new Script(Module.wrap(source), {
      filename,
      cachedData,
      importModuleDynamically: vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (cachedData && !script.cachedDataRejected) this.#hits++;
    else {
      this.#misses++;
      this.#fresh.set(filename, { crc, script });
    }
    return script;
  }

  /**
   * Writes what this process worked out since the last flush, merged with what the file holds now
   * (another process may have written it meanwhile); entries of files that no longer exist are
   * dropped. Writes nothing when nothing is new. A failed write loses only the cache.
   */
  flush(): void {
    if (this.#fresh.size === 0 && !this.#resolutionsChanged) return;
    const onDisk = readCacheFile(this.#file);
    const bytecode = new Map(onDisk.bytecode);
    for (const [filename, entry] of this.#bytecode) if (!bytecode.has(filename)) bytecode.set(filename, entry);
    for (const filename of bytecode.keys()) if (!this.#fresh.has(filename) && !existsSync(filename)) bytecode.delete(filename);
    for (const [filename, { crc, script }] of this.#fresh) bytecode.set(filename, { crc, data: script.createCachedData() });
    const resolutions = onDisk.dependencies === this.#dependencies ? new Map(onDisk.resolutions) : new Map<string, string>();
    for (const [key, filename] of this.#resolutions) resolutions.set(key, filename);
    for (const [key, filename] of resolutions) if (!existsSync(filename)) resolutions.delete(key);
    this.#fresh.clear();
    this.#resolutionsChanged = false;
    this.#bytecode = bytecode;
    this.#resolutions = resolutions;
    try {
      writeCacheFile(this.#file, { dependencies: this.#dependencies, bytecode, resolutions });
    } catch {
      // A read-only or full disk: the next start works everything out, as without a cache.
    }
  }
}

function readCacheFile(file: string): CacheFile {
  const empty: CacheFile = { dependencies: '', bytecode: new Map(), resolutions: new Map() };
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return empty;
  }
  try {
    const headerEnd = bytes.indexOf(0x0a);
    const header = JSON.parse(bytes.subarray(0, headerEnd).toString('utf8')) as {
      magic?: unknown;
      node?: unknown;
      dependencies?: unknown;
      resolutions?: [string, string][];
      bytecode?: [string, number, number][];
    };
    if (header.magic !== MAGIC || header.node !== nodeVersion() || typeof header.dependencies !== 'string') return empty;
    const bytecode = new Map<string, Bytecode>();
    let offset = headerEnd + 1;
    for (const [filename, crc, length] of header.bytecode ?? []) {
      if (offset + length > bytes.length) return empty;
      bytecode.set(filename, { crc, data: bytes.subarray(offset, offset + length) });
      offset += length;
    }
    return { dependencies: header.dependencies, bytecode, resolutions: new Map(header.resolutions ?? []) };
  } catch {
    return empty;
  }
}

/** Written beside and renamed over, so a reader never sees half a file. */
function writeCacheFile(file: string, { dependencies, bytecode, resolutions }: CacheFile): void {
  const header = {
    magic: MAGIC,
    node: nodeVersion(),
    dependencies,
    resolutions: [...resolutions],
    bytecode: [...bytecode].map(([filename, { crc, data }]) => [filename, crc, data.length]),
  };
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, 'utf8'), ...[...bytecode.values()].map((entry) => entry.data)]));
    renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
}

function nodeVersion(): string {
  return `${process.version}-${process.arch}`;
}

/**
 * Where a project keeps its module cache: beside its dependencies, in `node_modules/.cache/modelloop/`
 * where build tools keep theirs, one file per Node version and architecture (V8 rejects bytecode of any
 * other); and what its resolutions depend on: the installed packages (npm's hidden lockfile) and the
 * `--conditions` Node resolves package exports under. Undefined outside a project with `node_modules`.
 */
export function projectModuleCache(from: string): { file: string; dependencies: string } | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const modules = join(dir, 'node_modules');
    if (existsSync(modules)) {
      let lockfile = 'none';
      try {
        const stat = statSync(join(modules, '.package-lock.json'));
        lockfile = `${stat.size}:${stat.mtimeMs}`;
      } catch {
        // No npm lockfile (another package manager): resolutions then last while their files exist.
      }
      const conditions = process.execArgv.filter((flag) => /^(--conditions|-C)\b/.test(flag)).join(' ');
      return { file: join(modules, '.cache', 'modelloop', `module-cache-${nodeVersion()}.bin`), dependencies: `${lockfile} ${conditions}` };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** What of Node's CommonJS loader the cache replaces or calls; not in @types/node. */
interface CommonJsLoader {
  _compile(this: NodeJS.Module, content: string, filename: string, format?: string): unknown;
}
interface ModuleStatics {
  _resolveFilename(this: unknown, request: string, parent: NodeJS.Module | undefined, isMain: boolean, options?: { paths?: string[] }): string;
  _resolveLookupPaths(request: string, parent: NodeJS.Module): string[] | null;
  _extensions: NodeJS.RequireExtensions;
  _cache: NodeJS.Dict<NodeJS.Module>;
}
type ModuleWrapper = (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => unknown;

const DYNAMIC_IMPORT = /\bimport\s*\(/;

// One per process, even if this file is evaluated twice (test runners re-evaluate modules).
const INSTALLED = Symbol.for('modelloop.local-host.module-cache');

/**
 * Makes every CommonJS module required from now on in this process resolve and compile through
 * `cache`; the first call wins, later ones return the cache already installed. Node keeps its own way
 * for the main module, requests with `paths` options, ES module syntax (detected by the parse failing),
 * a hashbang line, `import()`, and runs with source maps, a policy or a debugger waiting on the first
 * line, which need its own compile path.
 */
export function installModuleCache(cache: ModuleCache): ModuleCache {
  const global = globalThis as typeof globalThis & { [INSTALLED]?: ModuleCache };
  if (global[INSTALLED]) return global[INSTALLED];
  global[INSTALLED] = cache;
  if (process.sourceMapsEnabled || process.execArgv.some((flag) => /^--(inspect-brk|experimental-policy)/.test(flag))) return cache;

  const statics = Module as unknown as ModuleStatics;
  const originalResolve = statics._resolveFilename;
  statics._resolveFilename = function resolveFilename(request, parent, isMain, options) {
    if (isMain || options || !parent?.filename || Module.isBuiltin(request)) return originalResolve.call(this, request, parent, isMain, options);
    return cache.resolve(dirname(parent.filename), request, () => originalResolve.call(this, request, parent, isMain, options));
  };

  const loader = Module.prototype as unknown as CommonJsLoader;
  const originalCompile = loader._compile;
  loader._compile = function compile(content, filename, format) {
    // import() from a script compiled with cached data finds no loader in Node 20 (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING),
    // so the few modules that may call it compile as Node compiles them.
    if (format === 'module' || content.startsWith('#!') || DYNAMIC_IMPORT.test(content)) return originalCompile.call(this, content, filename, format);
    let script: Script;
    try {
      script = cache.compile(content, filename);
    } catch {
      // Not a CommonJS script (ES module syntax) or a syntax error: Node's loader detects the one and reports the other.
      return originalCompile.call(this, content, filename, format);
    }
    const wrapper = script.runInThisContext({ displayErrors: true }) as ModuleWrapper;
    const module = this;
    // As Node's makeRequireFunction builds it.
    const require = ((id: string) => module.require(id)) as NodeJS.Require;
    const resolve = ((request: string, resolveOptions?: { paths?: string[] }) => statics._resolveFilename(request, module, false, resolveOptions)) as NodeJS.RequireResolve;
    resolve.paths = (request: string) => statics._resolveLookupPaths(request, module);
    require.resolve = resolve;
    require.main = process.mainModule;
    require.extensions = statics._extensions;
    require.cache = statics._cache;
    return Reflect.apply(wrapper, module.exports, [module.exports, require, module, filename, dirname(filename)]);
  };
  return cache;
}
