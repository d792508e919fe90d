import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FunctionsHost } from '../../host/functions-host';
import { authorized, hostKeysFrom, presentedKey } from '../../host/keys';
import { APP_FIXTURE, collectingLogger } from './helpers';

const storageConnection = inject('storageConnection');
const binding = (route: string, authLevel: string) => ({
  request: { type: 'httpTrigger', direction: 'in' as const, route, methods: ['GET', 'POST'], authLevel },
  $return: { type: 'http', direction: 'out' as const },
});

function hostWith(env: Record<string, string | undefined>): FunctionsHost {
  const host = new FunctionsHost({ scriptRoot: APP_FIXTURE, hostJson: { version: '2.0' }, port: 0, log: collectingLogger().log, storageConnection, localSettings: false });
  host.register('open', { bindings: binding('open', 'anonymous') }, () => ({ jsonBody: { ok: 'open' } }));
  host.register('score', { bindings: binding('score', 'function') }, () => ({ jsonBody: { ok: 'score' } }));
  host.register('change', { bindings: binding('change', 'admin') }, () => ({ jsonBody: { ok: 'change' } }));
  // The host reads the key settings when it starts, as the real host reads its key store.
  const saved = { f: process.env.MODELLOOP_FUNCTION_KEYS, a: process.env.MODELLOOP_ADMIN_KEYS };
  const start = host.start.bind(host);
  host.start = async () => {
    process.env.MODELLOOP_FUNCTION_KEYS = env.function ?? '';
    process.env.MODELLOOP_ADMIN_KEYS = env.admin ?? '';
    try {
      await start();
    } finally {
      process.env.MODELLOOP_FUNCTION_KEYS = saved.f ?? '';
      process.env.MODELLOOP_ADMIN_KEYS = saved.a ?? '';
    }
  };
  return host;
}

const status = async (host: FunctionsHost, path: string, init: RequestInit = {}): Promise<number> => (await fetch(`${host.url}/api/${path}`, init)).status;

describe('host keys', () => {
  describe('with function and admin keys configured', () => {
    const host = hostWith({ function: 'fkey-1, fkey-2', admin: 'master' });
    beforeAll(() => host.start());
    afterAll(() => host.stop());

    it('lets anonymous routes through without a key', async () => {
      expect(await status(host, 'open')).toBe(200);
    });

    it('refuses a function-level route without a key or with a wrong one, with a 401 naming how to send one', async () => {
      const reply = await fetch(`${host.url}/api/score`, { method: 'POST', body: '{"instances": []}' });
      expect(reply.status).toBe(401);
      expect(await reply.json()).toMatchObject({ code: 'Unauthorized', error: expect.stringMatching(/x-functions-key header or \?code=/) });
      expect(await status(host, 'score', { headers: { 'x-functions-key': 'fkey-3' } })).toBe(401);
      expect(await status(host, 'score?code=fkey')).toBe(401);
    });

    it('takes a function key in the x-functions-key header or ?code=, and an admin key too', async () => {
      expect(await status(host, 'score', { headers: { 'x-functions-key': 'fkey-2' } })).toBe(200);
      expect(await status(host, 'score?code=fkey-1')).toBe(200);
      expect(await status(host, 'score', { headers: { 'x-functions-key': 'master' } })).toBe(200);
    });

    it('opens admin routes to admin keys only', async () => {
      expect(await status(host, 'change', { headers: { 'x-functions-key': 'fkey-1' } })).toBe(401);
      expect(await status(host, 'change')).toBe(401);
      expect(await status(host, 'change?code=master')).toBe(200);
    });
  });

  describe('with no keys configured', () => {
    const host = hostWith({});
    beforeAll(() => host.start());
    afterAll(() => host.stop());

    it('checks nothing, as Core Tools do', async () => {
      expect(await status(host, 'score')).toBe(200);
      expect(await status(host, 'change')).toBe(200);
    });
  });

  it('reads comma-separated keys from the settings and the key from header before query', () => {
    const keys = hostKeysFrom({ MODELLOOP_FUNCTION_KEYS: ' a ,b,,', MODELLOOP_ADMIN_KEYS: '' });
    expect(keys).toEqual({ function: ['a', 'b'], admin: [] });
    expect(presentedKey({ 'x-functions-key': 'h' }, new URLSearchParams('code=q'))).toBe('h');
    expect(presentedKey({}, new URLSearchParams('code=q'))).toBe('q');
    expect(authorized('admin', keys, 'a')).toBe(false);
    expect(authorized('function', keys, 'b')).toBe(true);
    expect(authorized('function', keys, 'bb')).toBe(false);
  });
});
