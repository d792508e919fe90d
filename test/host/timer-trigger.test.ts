import type { Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import { FunctionsHost } from '../../host/functions-host';
import { parseTimerSchedule } from '../../host/timer-trigger';
import { APP_FIXTURE, collectingLogger, eventually, uniqueName } from './helpers';

const storageConnection = inject('storageConnection');
const timerTrigger = (schedule: string, options: Record<string, unknown> = {}) => ({
  timer: { type: 'timerTrigger', direction: 'in' as const, schedule, ...options },
});

function createHost(hostId = uniqueName('host')): FunctionsHost {
  return new FunctionsHost({ scriptRoot: APP_FIXTURE, hostJson: { version: '2.0' }, port: 0, log: collectingLogger().log, storageConnection, hostId });
}

describe('timer schedules', () => {
  it('reads six-field NCRONTAB in UTC and TimeSpan intervals', () => {
    const hourly = parseTimerSchedule('0 0 * * * *', 'evaluate', 'UTC');
    expect(hourly.next(new Date('2024-05-01T10:15:30Z')).toISOString()).toBe('2024-05-01T11:00:00.000Z');
    expect(hourly.adjustForDST).toBe(true);
    const interval = parseTimerSchedule('00:05:00', 'evaluate');
    expect(interval.next(new Date('2024-05-01T10:15:30Z')).toISOString()).toBe('2024-05-01T10:20:30.000Z');
    expect(interval.adjustForDST).toBe(false);
  });

  it('rejects a five-field expression when the function registers, and a field out of range when the host starts, naming the function', async () => {
    expect(() => parseTimerSchedule('0 * * * *', 'evaluate')).toThrow(/Function 'evaluate'.*"0 \* \* \* \*".*five fields.*seconds field first/s);
    expect(() => parseTimerSchedule('0 0 99 * * *', 'evaluate')).toThrow(/Function 'evaluate'.*"0 0 99 \* \* \*".*not recognized/s);
    const host = createHost();
    expect(() => host.register('nightly', { bindings: timerTrigger('0 0 * * *') }, () => undefined)).toThrow(/Function 'nightly'.*five fields/s);
    host.register('broken', { bindings: timerTrigger('0 0 99 * * *') }, () => undefined);
    await expect(host.start()).rejects.toThrow(/Function 'broken'.*not recognized/s);
  });
});

describe('timer trigger', () => {
  it('fires on a "*/1 * * * * *" schedule with the timer the function expects', async () => {
    const timers: Timer[] = [];
    const host = createHost();
    host.register('tick', { bindings: timerTrigger('*/1 * * * * *') }, (timer: Timer) => {
      timers.push(timer);
    });
    await host.start();
    try {
      await eventually(() => timers.length >= 2, 15_000);
    } finally {
      await host.stop();
    }
    expect(timers[0]).toMatchObject({ isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { next: expect.any(String) } });
    expect(Date.parse(timers[1]?.scheduleStatus.last ?? '')).toBeGreaterThan(0);
  });

  it('runs at start when runOnStartup is set, then on its schedule', async () => {
    let calls = 0;
    const host = createHost();
    host.register('warm', { bindings: timerTrigger('0 0 0 1 1 *', { runOnStartup: true, useMonitor: false }) }, () => {
      calls++;
    });
    await host.start();
    try {
      await eventually(() => calls === 1);
    } finally {
      await host.stop();
    }
  });

  it('runs a missed occurrence at start with isPastDue, from the status stored in azure-webjobs-hosts', async () => {
    const hostId = uniqueName('host');
    const hosts = BlobServiceClient.fromConnectionString(storageConnection).getContainerClient('azure-webjobs-hosts');
    await hosts.createIfNotExists();
    const status = hosts.getBlockBlobClient(`timers/${hostId}/Host.Functions.yearly/status`);
    const stored = JSON.stringify({ Last: '2020-01-01T00:00:00.000Z', Next: '2021-01-01T00:00:00.000Z', LastUpdated: '2020-01-01T00:00:00.000Z' });
    await status.upload(stored, stored.length);

    const timers: Timer[] = [];
    const host = createHost(hostId);
    host.register('yearly', { bindings: timerTrigger('0 0 0 1 1 *') }, (timer: Timer) => {
      timers.push(timer);
    });
    await host.start();
    try {
      await eventually(() => timers.length === 1);
      expect(timers[0]).toMatchObject({ isPastDue: true, scheduleStatus: { last: '2020-01-01T00:00:00.000Z', next: '2021-01-01T00:00:00.000Z' } });
      const written = await eventually(async () => {
        const json = JSON.parse((await status.downloadToBuffer()).toString()) as { Last: string; Next: string };
        return json.Last !== '2020-01-01T00:00:00.000Z' ? json : undefined;
      });
      expect(Date.parse(written.Next)).toBeGreaterThan(Date.now());
      expect(written.Next).toMatch(/-01-01T00:00:00\.000Z$/);
    } finally {
      await host.stop();
    }
  });
});
