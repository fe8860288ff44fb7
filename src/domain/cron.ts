// Cron expressions: when a schedule fires, its previous slot, its longest interval.
import { CronExpressionParser } from 'cron-parser';

/** The last time a cron schedule fired at or before `at` (local time, as cron runs). */
export function previousSlot(cron: string, at: Date): Date {
  const e = CronExpressionParser.parse(cron, { currentDate: new Date(at.getTime() + 1000) });
  return e.prev().toDate();
}

export function nextSlot(cron: string, at: Date): Date {
  return CronExpressionParser.parse(cron, { currentDate: at }).next().toDate();
}

/** Whether the schedule fires in the minute that contains `at`. */
export function firesInMinute(cron: string, at: Date): boolean {
  const minute = new Date(at.getTime() - (at.getTime() % 60_000));
  return previousSlot(cron, new Date(minute.getTime() + 59_000)).getTime() === minute.getTime();
}

/** The longest gap between two runs of a schedule (over its next 60 runs). */
export function longestInterval(cron: string, from: Date): number {
  // Walking 60 occurrences costs a few milliseconds per schedule, and policy and status ask for
  // every asset's: the answer for a schedule is kept for the hour it was asked in.
  const key = `${cron}\u0000${Math.floor(from.getTime() / 3_600_000)}`;
  const known = intervals.get(key);
  if (known !== undefined) return known;
  const longest = walkIntervals(cron, from);
  if (intervals.size >= 1000) intervals.clear();
  intervals.set(key, longest);
  return longest;
}

const intervals = new Map<string, number>();

function walkIntervals(cron: string, from: Date): number {
  const e = CronExpressionParser.parse(cron, { currentDate: from });
  let prev = e.next().toDate().getTime();
  let longest = 0;
  for (let i = 0; i < 60; i++) {
    const t = e.next().toDate().getTime();
    longest = Math.max(longest, t - prev);
    prev = t;
  }
  return longest;
}

export function isValidCron(cron: string): boolean {
  try {
    CronExpressionParser.parse(cron);
    return cron.trim().split(/\s+/).length === 5;
  } catch {
    return false;
  }
}
