// Keep-last / hourly / daily / weekly / monthly / yearly retention, with `restic forget --keep-*` semantics.

/** How many of each to keep: the newest set in each of the N most recent hours, days, … */
export interface KeepRules {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
}

export type KeepRule = keyof KeepRules;

/** In the order restic applies and prints them. */
export const KEEP_RULES: readonly KeepRule[] = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'];

export const KEEP_FORMAT =
  'keep rules joined by +, each <n><unit> with unit l|last, h|hourly, d|daily, w|weekly, m|monthly, y|yearly (e.g. 7d+4w+12m, 24h+7d; one rule alone spelled out: 30daily)';

const UNITS: Record<string, KeepRule> = {
  l: 'last',
  last: 'last',
  h: 'hourly',
  hourly: 'hourly',
  d: 'daily',
  daily: 'daily',
  w: 'weekly',
  weekly: 'weekly',
  m: 'monthly',
  monthly: 'monthly',
  y: 'yearly',
  yearly: 'yearly',
};

/**
 * Words that make a single-part value a keep rule (`30daily`); short units need a `+` (`24h`
 * alone is neither an age nor a rule: it is refused, not read as keep-24-hourly).
 */
const KEEP_ONLY_UNITS = new Set(['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly']);

/**
 * Parses `7d+4w+12m`, `24h+7d`, `30daily`: undefined when it is not a keep-rule value (a plain
 * age such as `7days` or `7d` is not: without a `+`, `d`, `w`, `m` and `y` keep their age
 * meaning). Throws on a value that is one but is malformed (a rule twice, a zero count).
 */
export function parseKeepRules(text: string): KeepRules | undefined {
  const parts = text.trim().toLowerCase().split('+');
  const single = parts.length === 1;
  const read = parts.map((p) => /^(\d+)\s*([a-z]+)$/.exec(p.trim()));
  if (read.some((m) => !m)) return undefined;
  if (single && !KEEP_ONLY_UNITS.has((read[0] as RegExpExecArray)[2] as string)) return undefined;
  const rules: KeepRules = {};
  for (const m of read as RegExpExecArray[]) {
    const rule = UNITS[m[2] as string];
    const count = Number(m[1]);
    if (!rule) return undefined;
    if (rules[rule] !== undefined) throw new Error(`keep rule ${rule} is given twice`);
    if (!Number.isSafeInteger(count) || count <= 0) throw new Error(`keep rule ${rule} must keep at least 1`);
    rules[rule] = count;
  }
  return rules;
}

/** `7 daily, 4 weekly, 12 monthly`. */
export function formatKeepRules(rules: KeepRules): string {
  return KEEP_RULES.filter((r) => rules[r] !== undefined)
    .map((r) => `${rules[r]} ${r}`)
    .join(', ');
}

/** The start of the bucket (hour, day, ISO week from Monday, month, year; UTC) holding `t`. */
export function bucketStart(rule: Exclude<KeepRule, 'last'>, t: Date): Date {
  const y = t.getUTCFullYear();
  const mo = t.getUTCMonth();
  const d = t.getUTCDate();
  switch (rule) {
    case 'hourly':
      return new Date(Date.UTC(y, mo, d, t.getUTCHours()));
    case 'daily':
      return new Date(Date.UTC(y, mo, d));
    case 'weekly': {
      const sinceMonday = (t.getUTCDay() + 6) % 7;
      return new Date(Date.UTC(y, mo, d - sinceMonday));
    }
    case 'monthly':
      return new Date(Date.UTC(y, mo, 1));
    case 'yearly':
      return new Date(Date.UTC(y, 0, 1));
  }
}

/** A set as the keep rules see it: its time and id (ties in time are ordered by id). */
export interface Kept {
  id: string;
  time: Date;
}

/**
 * The sets each rule keeps, asking `olderThan` for the newest set strictly before a point
 * (time, then id; undefined: the newest of all). Each rule is independent, as in restic: it
 * keeps the newest set of each of its N most recent buckets (`last`: the N newest sets). It
 * jumps from bucket to bucket, so it asks at most N times per rule however many sets there are.
 * Returns, per set id kept, the rules that keep it.
 */
export function keptByRules(
  rules: KeepRules,
  olderThan: (before: { time: Date; id: string } | undefined) => Kept | undefined,
): Map<string, KeepRule[]> {
  const kept = new Map<string, KeepRule[]>();
  const add = (id: string, rule: KeepRule) => kept.set(id, [...(kept.get(id) ?? []), rule]);
  for (const rule of KEEP_RULES) {
    const n = rules[rule];
    if (!n) continue;
    let cursor = olderThan(undefined);
    for (let i = 0; i < n && cursor; i++) {
      add(cursor.id, rule);
      // The next bucket starts below this one's start ('' sorts before every id at that time).
      cursor =
        rule === 'last'
          ? olderThan({ time: cursor.time, id: cursor.id })
          : olderThan({ time: bucketStart(rule, cursor.time), id: '' });
    }
  }
  return kept;
}

/** `olderThan` over a list of sets (any order), for tests and small catalogs. */
export function olderThanIn(
  sets: readonly Kept[],
): (before: { time: Date; id: string } | undefined) => Kept | undefined {
  const sorted = [...sets].sort(
    (a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
  return (before) =>
    before === undefined
      ? sorted[0]
      : sorted.find(
          (s) =>
            s.time.getTime() < before.time.getTime() ||
            (s.time.getTime() === before.time.getTime() && s.id < before.id),
        );
}
