import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyLocalSettings, parseHostJson, parseTimeSpan } from '../../host/settings';

describe('TimeSpan', () => {
  it('parses the forms host.json uses', () => {
    expect(parseTimeSpan('00:01:00')).toBe(60_000);
    expect(parseTimeSpan('00:00:02.5')).toBe(2_500);
    expect(parseTimeSpan('1.02:00:00')).toBe(26 * 3_600_000);
    expect(parseTimeSpan('00:10')).toBe(600_000);
    expect(parseTimeSpan('2')).toBe(2 * 86_400_000);
  });

  it('rejects what is not a TimeSpan', () => {
    expect(parseTimeSpan('soon')).toBeUndefined();
    expect(parseTimeSpan('00:61:00')).toBeUndefined();
    expect(parseTimeSpan('1m')).toBeUndefined();
  });
});

describe('host.json', () => {
  it('applies the defaults of the real host', () => {
    const settings = parseHostJson({ version: '2.0' }, 'host.json', {});
    expect(settings.routePrefix).toBe('api');
    expect(settings.functionTimeoutMs).toBe(30 * 60_000);
    expect(settings.queues).toEqual({
      maxPollingIntervalMs: 60_000,
      visibilityTimeoutMs: 0,
      batchSize: 16,
      newBatchThreshold: 8,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    });
    expect(settings.blobs.poisonBlobThreshold).toBe(5);
    expect(settings.blobs.maxDegreeOfParallelism).toBeGreaterThanOrEqual(8);
  });

  it('reads the settings the product sets', () => {
    const settings = parseHostJson(
      {
        version: '2.0',
        functionTimeout: '00:10:00',
        extensions: {
          http: { routePrefix: '' },
          queues: { maxPollingInterval: '00:00:02', visibilityTimeout: '00:00:30', batchSize: 4, maxDequeueCount: 3, messageEncoding: 'none' },
        },
      },
      'host.json',
      {},
    );
    expect(settings.routePrefix).toBe('');
    expect(settings.functionTimeoutMs).toBe(600_000);
    expect(settings.queues).toMatchObject({ maxPollingIntervalMs: 2_000, visibilityTimeoutMs: 30_000, batchSize: 4, newBatchThreshold: 2, maxDequeueCount: 3, messageEncoding: 'none' });
    expect(settings.blobs.poisonBlobThreshold).toBe(3);
  });

  it('treats functionTimeout -1 as unlimited', () => {
    expect(parseHostJson({ version: '2.0', functionTimeout: '-1' }, 'host.json', {}).functionTimeoutMs).toBeUndefined();
  });

  it('reads keys case-insensitively, as .NET configuration does', () => {
    const settings = parseHostJson({ Version: '2.0', Extensions: { Queues: { MaxDequeueCount: 2, MessageEncoding: 'None' } } }, 'host.json', {});
    expect(settings.queues.maxDequeueCount).toBe(2);
    expect(settings.queues.messageEncoding).toBe('none');
  });

  it('applies AzureFunctionsJobHost__ overrides from the environment', () => {
    const settings = parseHostJson({ version: '2.0', extensions: { queues: { maxDequeueCount: 5 } } }, 'host.json', {
      AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '2',
    });
    expect(settings.queues.maxDequeueCount).toBe(2);
  });

  it('names the bad field', () => {
    expect(() => parseHostJson({ version: '2.0', extensions: { queues: { batchSize: 100 } } }, 'host.json', {})).toThrow(/extensions\.queues\.batchSize/);
    expect(() => parseHostJson({ version: '2.0', extensions: { queues: { maxPollingInterval: 'soon' } } }, 'host.json', {})).toThrow(
      /extensions\.queues\.maxPollingInterval: expected a TimeSpan such as "00:05:00", got "soon"/,
    );
    expect(() => parseHostJson({ version: '2.0', functionTimeout: 'forever' }, 'host.json', {})).toThrow(/functionTimeout: expected a TimeSpan/);
    expect(() => parseHostJson({}, 'host.json', {})).toThrow(/version: must be "2\.0"/);
  });
});

describe('local.settings.json', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('copies Values into the environment without overriding what is set, and reads LocalHttpPort', () => {
    dir = mkdtempSync(join(tmpdir(), 'local-settings-'));
    writeFileSync(
      join(dir, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: { NEW_SETTING: 'from-file', EXISTING: 'from-file', EMPTY: 'from-file', COUNT: 3 }, Host: { LocalHttpPort: 7072 } }),
    );
    const env: NodeJS.ProcessEnv = { EXISTING: 'from-env', EMPTY: '' };
    const settings = applyLocalSettings(dir, env);
    expect(env).toEqual({ NEW_SETTING: 'from-file', EXISTING: 'from-env', EMPTY: 'from-file', COUNT: '3' });
    expect(settings?.localHttpPort).toBe(7072);
  });

  it('is optional', () => {
    dir = mkdtempSync(join(tmpdir(), 'local-settings-'));
    expect(applyLocalSettings(dir, {})).toBeUndefined();
  });

  it('names the bad field', () => {
    dir = mkdtempSync(join(tmpdir(), 'local-settings-'));
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ Values: { NESTED: { no: 1 } } }));
    expect(() => applyLocalSettings(dir as string, {})).toThrow(/Values\.NESTED/);
  });
});
