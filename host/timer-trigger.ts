import type { BlockBlobClient } from '@azure/storage-blob';
import { CronExpressionParser } from 'cron-parser';
import { resolveAppSettings, type FunctionDefinition } from './function-definition';
import type { Invoker } from './invoker';
import { toError, type HostLogger } from './logger';
import { parseTimeSpan } from './settings';
import { HOSTS_CONTAINER, isStorageError, type StorageConnections } from './storage';

/** A timer trigger's schedule: six-field NCRONTAB, or a TimeSpan interval. */
export interface TimerSchedule {
  readonly text: string;
  /** True for cron schedules, false for TimeSpan intervals, as the host reports it to the function. */
  readonly adjustForDST: boolean;
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
}

/**
 * Parses a schedule the way the Functions host does: `{second} {minute} {hour} {day} {month} {day-of-week}`
 * in `WEBSITE_TIME_ZONE` (default UTC, as in Azure), or a TimeSpan such as "00:05:00". Five-field (Unix)
 * cron is rejected with a message that says so.
 */
export function parseTimerSchedule(expression: string, functionName: string, timeZone = process.env.WEBSITE_TIME_ZONE || 'UTC'): TimerSchedule {
  const shape = timerScheduleShape(expression, functionName);
  const { text } = shape;
  if (shape.kind === 'interval') return { text, adjustForDST: false, next: (after) => new Date(after.getTime() + shape.intervalMs) };
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new Error(`Function '${functionName}': WEBSITE_TIME_ZONE "${timeZone}" is not an IANA time zone name (e.g. "Europe/Paris").`);
  }
  const next = (after: Date): Date => CronExpressionParser.parse(text, { currentDate: after, tz: timeZone }).next().toDate();
  try {
    next(new Date());
  } catch (err) {
    throw unrecognizedSchedule(functionName, text, toError(err).message + '.');
  }
  return { text, adjustForDST: true, next };
}

/**
 * What `parseTimerSchedule` can tell from the text alone, without making a date: six fields or a
 * TimeSpan. The host checks this much when a function registers, and the rest when it starts, since
 * the first date cron-parser makes sets up ICU (some 25 ms), better paid once the app has loaded.
 */
export function timerScheduleShape(expression: string, functionName: string): { kind: 'cron'; text: string } | { kind: 'interval'; text: string; intervalMs: number } {
  const text = expression.trim();
  const fields = text.split(/\s+/);
  if (fields.length === 6) return { kind: 'cron', text };
  if (fields.length === 1) {
    const interval = parseTimeSpan(text);
    if (interval !== undefined && interval > 0) return { kind: 'interval', text, intervalMs: interval };
  }
  throw unrecognizedSchedule(functionName, text, fields.length === 5 ? 'It has five fields: NCRONTAB needs the seconds field first.' : `It has ${fields.length} field(s).`);
}

function unrecognizedSchedule(functionName: string, text: string, detail: string): Error {
  return new Error(
    `Function '${functionName}': the schedule "${text}" was not recognized as a valid cron expression or timespan string. ${detail} ` +
      'Azure Functions takes six-field NCRONTAB expressions, {second} {minute} {hour} {day} {month} {day-of-week} (e.g. "0 */5 * * * *"), or a TimeSpan "hh:mm:ss".',
  );
}

interface ScheduleStatus {
  last: Date | undefined;
  next: Date;
  lastUpdated: Date | undefined;
}

/** DateTime.MinValue, which the host writes for "never". */
const NEVER = '0001-01-01T00:00:00';

export interface TimerTriggerDeps {
  readonly connections: StorageConnections;
  readonly hostId: string;
  readonly invoker: Invoker;
  readonly log: HostLogger;
}

/**
 * Runs a timer function on its schedule, one invocation at a time. With `useMonitor` (default: on for
 * schedules that recur less often than once a minute) the schedule status lives in
 * `azure-webjobs-hosts/timers/{hostId}/{functionId}/status` as `{Last, Next, LastUpdated}`, so that an
 * occurrence missed while the host was down runs at start with `isPastDue: true`, as in Azure.
 */
export class TimerTriggerListener {
  readonly #definition: FunctionDefinition;
  readonly #deps: TimerTriggerDeps;
  readonly #schedule: TimerSchedule;
  readonly #useMonitor: boolean;
  readonly #statusBlob: BlockBlobClient | undefined;
  #status: ScheduleStatus | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(definition: FunctionDefinition, deps: TimerTriggerDeps) {
    this.#definition = definition;
    this.#deps = deps;
    const purpose = `Function '${definition.name}'`;
    this.#schedule = parseTimerSchedule(resolveAppSettings(String(definition.trigger.schedule), purpose), definition.name);
    const explicit = definition.trigger.useMonitor;
    this.#useMonitor = typeof explicit === 'boolean' ? explicit : recurrenceMs(this.#schedule) > 60_000;
    this.#statusBlob = this.#useMonitor
      ? deps.connections.hostBlobService().getContainerClient(HOSTS_CONTAINER).getBlockBlobClient(`timers/${deps.hostId}/${definition.id}/status`)
      : undefined;
  }

  get schedule(): TimerSchedule {
    return this.#schedule;
  }

  async start(): Promise<void> {
    const now = new Date();
    let pastDue = false;
    if (this.#statusBlob) {
      await this.#deps.connections.hostBlobService().getContainerClient(HOSTS_CONTAINER).createIfNotExists();
      pastDue = await this.#checkPastDue(now);
    }
    this.#status ??= { last: undefined, next: this.#schedule.next(now), lastUpdated: now };
    this.#running = true;
    this.#loop = this.#run(pastDue, this.#definition.trigger.runOnStartup === true);
  }

  /** Stops scheduling; waits up to `drainMs` for a running invocation (the host's drain covers the rest). */
  async stop(drainMs: number): Promise<void> {
    this.#running = false;
    this.#wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
  }

  async #run(pastDue: boolean, runOnStartup: boolean): Promise<void> {
    if (pastDue || runOnStartup) await this.#fire(new Date(), pastDue);
    while (this.#running) {
      const due = (this.#status as ScheduleStatus).next;
      await this.#sleepUntil(due);
      if (!this.#running) return;
      await this.#fire(due, false);
    }
  }

  async #fire(occurrence: Date, isPastDue: boolean): Promise<void> {
    const status = this.#status as ScheduleStatus;
    await this.#deps.invoker.invoke(this.#definition, {
      input: {
        schedule: { adjustForDST: this.#schedule.adjustForDST },
        scheduleStatus: {
          last: status.last?.toISOString() ?? NEVER,
          next: status.next.toISOString(),
          lastUpdated: status.lastUpdated?.toISOString() ?? NEVER,
        },
        isPastDue,
      },
      reason: `Timer fired at ${new Date().toISOString()}`,
    });
    // As the host: Next follows the occurrence that fired, so a run longer than the period fires once more at once.
    this.#status = { last: occurrence, next: this.#schedule.next(occurrence), lastUpdated: new Date() };
    await this.#writeStatus(this.#status);
  }

  #sleepUntil(due: Date): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // setTimeout takes at most ~24.8 days, and may fire a millisecond early: re-arm until due.
      const arm = (): void => {
        const remaining = due.getTime() - Date.now();
        if (remaining <= 0 || !this.#running) return done();
        timer = setTimeout(arm, Math.min(remaining, 2 ** 31 - 1));
      };
      this.#wake = done;
      arm();
    });
  }

  /** ScheduleMonitor.CheckPastDueAsync of the host; sets the status and says whether an occurrence was missed. */
  async #checkPastDue(now: Date): Promise<boolean> {
    const stored = await this.#readStatus();
    if (!stored) {
      this.#status = { last: undefined, next: this.#schedule.next(now), lastUpdated: now };
      await this.#writeStatus(this.#status);
      return false;
    }
    const basis = stored.last ?? stored.lastUpdated ?? now;
    let expected = this.#schedule.next(basis);
    let lastUpdated = basis;
    if (stored.next.getTime() !== expected.getTime()) {
      // The schedule changed since the status was written: start over from now rather than report past due.
      if (now > expected) {
        expected = this.#schedule.next(now);
        lastUpdated = now;
      }
      this.#status = { last: undefined, next: expected, lastUpdated };
      await this.#writeStatus(this.#status);
    } else {
      this.#status = stored;
    }
    return now > this.#status.next;
  }

  async #readStatus(): Promise<ScheduleStatus | undefined> {
    if (!this.#statusBlob) return undefined;
    let text: string;
    try {
      text = (await this.#statusBlob.downloadToBuffer()).toString('utf8');
    } catch (err) {
      if (isStorageError(err, 404)) return undefined;
      throw err;
    }
    try {
      const json = JSON.parse(text) as { Last?: string; Next?: string; LastUpdated?: string };
      const next = parseStatusDate(json.Next);
      return next ? { last: parseStatusDate(json.Last), next, lastUpdated: parseStatusDate(json.LastUpdated) } : undefined;
    } catch {
      this.#log('warning', `The timer status of '${this.#definition.name}' is not valid JSON; it starts over.`);
      return undefined;
    }
  }

  async #writeStatus(status: ScheduleStatus): Promise<void> {
    if (!this.#statusBlob) return;
    const body = JSON.stringify({
      Last: status.last?.toISOString() ?? NEVER,
      Next: status.next.toISOString(),
      LastUpdated: status.lastUpdated?.toISOString() ?? NEVER,
    });
    try {
      await this.#statusBlob.upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    } catch (err) {
      // Best effort, as in the host.
      this.#log('error', `Function '${this.#definition.name}' failed to update the timer trigger status: ${toError(err).message}`);
    }
  }

  #log(level: 'warning' | 'error', message: string): void {
    this.#deps.log({ level, message, category: 'Host.Triggers.Timer', functionName: this.#definition.name });
  }
}

function parseStatusDate(text: string | undefined): Date | undefined {
  if (!text || text.startsWith('0001-01-01')) return undefined;
  const date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(text) ? text : `${text}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The gap between the next two occurrences: how often the schedule recurs. */
function recurrenceMs(schedule: TimerSchedule): number {
  const first = schedule.next(new Date());
  return schedule.next(first).getTime() - first.getTime();
}
