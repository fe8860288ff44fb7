/**
 * Durations as teams write them. Two grammars:
 *  - short spans for RPO/RTO/timeouts: `15m`, `1h`, `24h`, `7d`, `30s` (also `1h30m`);
 *  - retention periods for labels/tiers: `<n><unit>` with `d|day(s)`, `w|week(s)`,
 *    `m|month(s)`, `y|year(s)` — `7days`, `1year`, `7years`, `90d`.
 * Note the clash: `m` is minutes in a span but months in a retention. Each grammar is
 * parsed by its own function so the context decides.
 */

import { formatKeepRules, KEEP_FORMAT, type KeepRules, parseKeepRules } from './keep-rules.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const SPAN_UNITS: Record<string, number> = { s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY };

export const SPAN_FORMAT = 'a number with s, m, h, d or w (e.g. 30s, 15m, 1h, 24h, 7d, 1h30m)';

/** Parses `15m`, `1h30m`, `7d` to milliseconds; undefined when malformed. */
export function parseSpan(text: string): number | undefined {
  const s = text.trim();
  if (!/^(\d+[smhdw])+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+)([smhdw])/g)) {
    total += Number(m[1]) * (SPAN_UNITS[m[2] as string] as number);
  }
  return total > 0 ? total : undefined;
}

/**
 * How long backups are kept: an age (`count` `unit`s; a count of 0 means no age rule) and/or
 * keep rules (restic's keep-last/hourly/daily/weekly/monthly/yearly). A backup is kept while it
 * is within the age or a keep rule keeps it.
 */
export interface RetentionPeriod {
  count: number;
  unit: 'day' | 'week' | 'month' | 'year';
  keep?: KeepRules;
}

export const RETENTION_FORMAT = `<n><unit> with unit d|day(s), w|week(s), m|month(s), y|year(s) (e.g. 7days, 1year, 7years), or ${KEEP_FORMAT}`;

const RETENTION_UNITS: Record<string, RetentionPeriod['unit']> = {
  d: 'day',
  day: 'day',
  days: 'day',
  w: 'week',
  week: 'week',
  weeks: 'week',
  m: 'month',
  month: 'month',
  months: 'month',
  y: 'year',
  year: 'year',
  years: 'year',
};

export function parseRetention(text: string): RetentionPeriod | undefined {
  let keep: KeepRules | undefined;
  try {
    keep = parseKeepRules(text);
  } catch {
    return undefined;
  }
  if (keep) return { count: 0, unit: 'day', keep };
  const m = /^(\d+)\s*([a-z]+)$/i.exec(text.trim());
  if (!m) return undefined;
  const count = Number(m[1]);
  const unit = RETENTION_UNITS[(m[2] as string).toLowerCase()];
  if (!unit || count <= 0) return undefined;
  return { count, unit };
}

/** The moment before which something made at `from` has expired: calendar arithmetic in UTC. */
export function retentionCutoff(now: Date, period: RetentionPeriod): Date {
  const d = new Date(now.getTime());
  switch (period.unit) {
    case 'day':
      d.setUTCDate(d.getUTCDate() - period.count);
      break;
    case 'week':
      d.setUTCDate(d.getUTCDate() - 7 * period.count);
      break;
    case 'month':
      return monthsBack(now, period.count);
    case 'year':
      return monthsBack(now, 12 * period.count);
  }
  return d;
}

/** Calendar months back, clamped to the last day of a shorter month (31 Mar − 1 month = 28/29 Feb). */
function monthsBack(now: Date, months: number): Date {
  const total = now.getUTCFullYear() * 12 + now.getUTCMonth() - months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const d = new Date(now.getTime());
  d.setUTCFullYear(year, month, Math.min(now.getUTCDate(), lastDay));
  return d;
}

export function formatRetention(p: RetentionPeriod): string {
  const age = p.count > 0 ? `${p.count} ${p.unit}${p.count === 1 ? '' : 's'}` : '';
  const keep = p.keep ? `keep ${formatKeepRules(p.keep)}` : '';
  return [age, keep].filter(Boolean).join(' + ') || 'keep the newest only';
}

/** `93s` → `1m 33s`; `90061000` → `1d 1h`. Two largest units, for humans. */
export function formatSpan(ms: number): string {
  if (ms < SECOND) return `${Math.max(0, Math.round(ms))}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / SECOND) * SECOND;
  for (const [unit, size] of [
    ['d', DAY],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', SECOND],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(' ');
}
