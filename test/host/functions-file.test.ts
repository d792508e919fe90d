import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { FunctionsHost } from '../../host/functions-host';
import { APP_FIXTURE, collectingLogger, UNSUPPORTED_FIXTURE } from './helpers';

const storageConnection = inject('storageConnection');
interface FixtureHooks {
  appStart: number;
  appTerminate: number;
  completed?: string[];
}
const fixtureHooks = (): FixtureHooks => (globalThis as { __localHostFixtureHooks?: FixtureHooks }).__localHostFixtureHooks ?? { appStart: 0, appTerminate: 0 };

describe('loading function files', () => {
  it('registers what the files in package.json main register through @azure/functions, and serves them', async () => {
    const logs = collectingLogger();
    const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, port: 0, log: logs.log, storageConnection });
    await host.load();
    expect(host.functions.map((f) => f.name).sort()).toEqual(['echo', 'hello']);
    expect(host.settings.routePrefix).toBe('api');

    const startsBefore = fixtureHooks().appStart;
    await host.start();
    try {
      expect(fixtureHooks().appStart).toBe(startsBefore + 1);
      expect(host.functions.find((f) => f.name === 'hello')?.summary).toBe(`[GET] ${host.url}/api/hello/{name}`);

      const hello = await fetch(`${host.url}/api/hello/ada?lang=en`);
      expect(hello.status).toBe(200);
      expect(await hello.json()).toEqual({ greeting: 'Hello, ada', lang: 'en' });
      expect(logs.entries).toContainEqual(expect.objectContaining({ category: 'Function.hello.User', message: 'Greeting ada' }));

      const echo = await fetch(`${host.url}/api/echo`, { method: 'POST', body: 'ping' });
      expect(echo.status).toBe(201);
      expect(echo.headers.get('x-echo')).toBe('yes');
      expect(await echo.text()).toBe('ping');
      expect(echo.headers.get('x-pre-invocation')).toBe('wrapped');
      expect(fixtureHooks().completed).toEqual(['hello', 'echo']);
    } finally {
      const terminatesBefore = fixtureHooks().appTerminate;
      await host.stop();
      expect(fixtureHooks().appTerminate).toBe(terminatesBefore + 1);
    }
  });

  it('leaves out a function disabled with AzureWebJobs.<name>.Disabled', async () => {
    process.env['AzureWebJobs.echo.Disabled'] = 'true';
    const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, port: 0, log: collectingLogger().log, storageConnection });
    try {
      await host.load();
      await host.start();
      expect(host.functions.find((f) => f.name === 'echo')).toMatchObject({ disabled: true, summary: expect.stringMatching(/\(disabled\)$/) });
      expect((await fetch(`${host.url}/api/echo`, { method: 'POST', body: 'ping' })).status).toBe(404);
      expect((await fetch(`${host.url}/api/hello/ada`)).status).toBe(200);
    } finally {
      delete process.env['AzureWebJobs.echo.Disabled'];
      await host.stop();
    }
  });

  it('loads the same files again into a second host in the same process', async () => {
    const first = new FunctionsHost({ scriptRoot: APP_FIXTURE, port: 0, log: collectingLogger().log, storageConnection });
    await first.load();
    const second = new FunctionsHost({ scriptRoot: APP_FIXTURE, port: 0, log: collectingLogger().log, storageConnection });
    await second.load();
    expect(second.functions.map((f) => f.name).sort()).toEqual(['echo', 'hello']);
  });

  it('fails with the file and the reason for a trigger the local host does not support', async () => {
    const host = new FunctionsHost({ scriptRoot: UNSUPPORTED_FIXTURE, port: 0, log: collectingLogger().log, storageConnection });
    await expect(host.load()).rejects.toThrow(
      /unable to load entry point "functions\/bus\.js": Function 'bus' uses a trigger of type 'serviceBusTrigger', which the local host does not support/,
    );
  });

  it('fails clearly when package.json main matches no file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'empty-app-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ main: 'dist/functions/*.js' }));
      writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
      mkdirSync(join(dir, 'dist'));
      const host = new FunctionsHost({ scriptRoot: dir, port: 0, log: collectingLogger().log });
      await expect(host.load()).rejects.toThrow(/"main" \("dist\/functions\/\*\.js"\) matches no file .*npm run build/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a second function with the same name', () => {
    const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, port: 0, log: collectingLogger().log });
    const bindings = { request: { type: 'httpTrigger', direction: 'in' as const, methods: ['GET'] } };
    host.register('twice', { bindings }, () => undefined);
    expect(() => host.register('twice', { bindings }, () => undefined)).toThrow(/"twice" has already been registered/);
  });
});
