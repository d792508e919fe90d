import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** A module's bytecode: in memory (compiled in this process), or where it lies in an open cache file. */
type Bytecode = { readonly crc: number; readonly data: Buffer } | { readonly crc: number; readonly file: CacheFileReader; readonly offset: number; readonly length: number };

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
  /** The cache file `#bytecode` reads from, open until the next flush puts all of it in memory. */
  #reader: CacheFileReader | undefined;
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
    this.#reader = cached.file;
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
    const cachedData = entry?.crc === crc ? viewOf(entry) : undefined;
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
    const merged = new Map(onDisk.bytecode);
    for (const [filename, entry] of this.#bytecode) if (!merged.has(filename)) merged.set(filename, entry);
    for (const filename of merged.keys()) if (!this.#fresh.has(filename) && !existsSync(filename)) merged.delete(filename);
    // In memory, all of it: the new file replaces the ones read so far.
    const bytecode = new Map<string, { crc: number; data: Buffer }>();
    for (const [filename, entry] of merged) {
      const data = this.#fresh.has(filename) ? undefined : copyOf(entry);
      if (data) bytecode.set(filename, { crc: entry.crc, data });
    }
    for (const [filename, { crc, script }] of this.#fresh) bytecode.set(filename, { crc, data: script.createCachedData() });
    onDisk.file?.close();
    this.#reader?.close();
    this.#reader = undefined;
    const resolutions = onDisk.dependencies === this.#dependencies ? new Map(onDisk.resolutions) : new Map<string, string>();
    for (const [key, filename] of this.#resolutions) resolutions.set(key, filename);
    for (const [key, filename] of resolutions) if (!existsSync(filename)) resolutions.delete(key);
    this.#fresh.clear();
    this.#resolutionsChanged = false;
    this.#bytecode = bytecode;
    this.#resolutions = resolutions;
    try {
      writeCacheFile(this.#file, this.#dependencies, bytecode, resolutions);
    } catch {
      // A read-only or full disk: the next start works everything out, as without a cache.
    }
  }
}

/**
 * An open cache file. A module's bytecode is read when the module is compiled, into one buffer reused for
 * every module: reading the whole file (some 6 MB) into fresh memory at start cost more than the reads,
 * on a VM where the first touch of a page is slow.
 */
class CacheFileReader {
  readonly #fd: number;
  #scratch = Buffer.alloc(0);
  #open = true;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The bytes at `offset`; valid until the next read. Undefined when the file is closed or shorter. */
  view(offset: number, length: number): Buffer | undefined {
    if (!this.#open) return undefined;
    if (this.#scratch.length < length) this.#scratch = Buffer.allocUnsafeSlow(Math.max(length, 2 * this.#scratch.length, 256 * 1024));
    try {
      return readSync(this.#fd, this.#scratch, 0, length, offset) === length ? this.#scratch.subarray(0, length) : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    closeSync(this.#fd);
  }
}

/** Bytecode to hand to V8, which copies what it needs while it compiles. */
function viewOf(entry: Bytecode): Buffer | undefined {
  return 'data' in entry ? entry.data : entry.file.view(entry.offset, entry.length);
}

/** Bytecode that outlives the next read. */
function copyOf(entry: Bytecode): Buffer | undefined {
  if ('data' in entry) return entry.data;
  const view = entry.file.view(entry.offset, entry.length);
  return view && Buffer.from(view);
}

/** The header: the first line, JSON. */
interface CacheHeader {
  magic?: unknown;
  node?: unknown;
  dependencies?: unknown;
  resolutions?: [string, string][];
  bytecode?: [string, number, number][];
}

/** Reads the header and keeps the file open for the bytecode behind it; an unreadable or foreign file is empty. */
function readCacheFile(file: string): CacheFile & { readonly file?: CacheFileReader } {
  const empty: CacheFile = { dependencies: '', bytecode: new Map(), resolutions: new Map() };
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return empty;
  }
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let headerEnd = -1;
    for (let position = 0; headerEnd < 0 && position < size; ) {
      const chunk = Buffer.allocUnsafe(Math.min(512 * 1024, size - position));
      const n = readSync(fd, chunk, 0, chunk.length, position);
      if (n <= 0) break;
      const newline = chunk.subarray(0, n).indexOf(0x0a);
      chunks.push(chunk.subarray(0, newline < 0 ? n : newline));
      if (newline >= 0) headerEnd = position + newline;
      position += n;
    }
    const header = headerEnd < 0 ? undefined : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as CacheHeader);
    if (!header || header.magic !== MAGIC || header.node !== nodeVersion() || typeof header.dependencies !== 'string') {
      closeSync(fd);
      return empty;
    }
    const reader = new CacheFileReader(fd);
    const bytecode = new Map<string, Bytecode>();
    let offset = headerEnd + 1;
    for (const [filename, crc, length] of header.bytecode ?? []) {
      if (offset + length > size) {
        reader.close();
        return empty;
      }
      bytecode.set(filename, { crc, file: reader, offset, length });
      offset += length;
    }
    return { dependencies: header.dependencies, bytecode, resolutions: new Map(header.resolutions ?? []), file: reader };
  } catch {
    closeSync(fd);
    return empty;
  }
}

/** Written beside and renamed over, so a reader never sees half a file. */
function writeCacheFile(file: string, dependencies: string, bytecode: ReadonlyMap<string, { crc: number; data: Buffer }>, resolutions: ReadonlyMap<string, string>): void {
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
