import { installModuleCache, ModuleCache, projectModuleCache } from './module-cache';

/**
 * The host process's module cache, installed when this module is first imported: `functions-host.ts`
 * imports it before anything else, so that its own dependencies (the Storage SDKs, zod) and then the
 * app's files load through it. `MODELLOOP_MODULE_CACHE=off` turns it off; any other value names the file.
 */
export const hostModuleCache: ModuleCache | undefined = install();

function install(): ModuleCache | undefined {
  const setting = process.env.MODELLOOP_MODULE_CACHE?.trim();
  if (setting && /^(off|false|0)$/i.test(setting)) return undefined;
  const project = projectModuleCache(__dirname);
  const file = setting || project?.file;
  return file ? installModuleCache(new ModuleCache(file, project?.dependencies ?? '')) : undefined;
}
