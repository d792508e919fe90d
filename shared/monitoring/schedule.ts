import { CronExpressionParser } from 'cron-parser';

/** The evaluation schedule every model follows unless its definition names its own: hourly, on the hour. */
export const DEFAULT_EVALUATION_SCHEDULE = '0 0 * * * *';

/**
 * Why a six-field NCRONTAB expression (`{second} {minute} {hour} {day} {month} {day-of-week}`,
 * as Azure Functions timers take) is not valid, or undefined when it is.
 */
export function scheduleProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    return `"${expression}" has ${fields.length} field(s); a schedule is six-field NCRONTAB, {second} {minute} {hour} {day} {month} {day-of-week}, e.g. "0 0 * * * *" for hourly`;
  }
  // The default is known good; checking it would cost every cold start cron-parser's first date: some
  // 6 ms of its own, and ICU's set-up (some 25 ms) when the background warm-up has not yet done it.
  if (fields.join(' ') === DEFAULT_EVALUATION_SCHEDULE) return undefined;
  try {
    CronExpressionParser.parse(expression.trim(), { tz: 'UTC' }).next();
    return undefined;
  } catch (err) {
    return `"${expression}" is not a valid NCRONTAB expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** The first time the schedule fires strictly after `after`, in `timeZone` (the app's WEBSITE_TIME_ZONE, UTC by default). */
export function nextOccurrence(expression: string, after: Date, timeZone = process.env.WEBSITE_TIME_ZONE || 'UTC'): Date {
  return CronExpressionParser.parse(expression.trim(), { currentDate: after, tz: timeZone }).next().toDate();
}

/** Timers fire a moment late or early; an occurrence this close to now counts as due. */
const TOLERANCE_MS = 5_000;

/** Whether a model last evaluated at `last` is due at `now` under its schedule (always, if never evaluated). */
export function isDue(expression: string, last: Date | undefined, now: Date): boolean {
  if (!last) return true;
  return nextOccurrence(expression, last).getTime() <= now.getTime() + TOLERANCE_MS;
}
