import { describe, expect, it } from 'vitest';
import {
  formatRetention,
  formatSpan,
  parseRetention,
  parseSpan,
  retentionCutoff,
} from '../../../src/domain/duration.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseSpan', () => {
  it.each([
    ['30s', 30 * SECOND],
    ['15m', 15 * MINUTE],
    ['1h', HOUR],
    ['24h', 24 * HOUR],
    ['7d', 7 * DAY],
    ['2w', 14 * DAY],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1d2h3m4s', DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND],
  ])('parses %s', (text, expected) => {
    const ms = parseSpan(text);

    expect(ms).toBe(expected);
  });

  it('ignores surrounding whitespace', () => {
    const ms = parseSpan('  15m\n');

    expect(ms).toBe(15 * MINUTE);
  });

  it('reads m as minutes, not months', () => {
    const ms = parseSpan('3m');

    expect(ms).toBe(3 * MINUTE);
  });

  it.each(['', '15', 'm', '15 minutes', '1.5h', '-5m', '15M', '1h 30m', '7days', '1y', 'h1'])(
    'rejects malformed %j',
    (text) => {
      const ms = parseSpan(text);

      expect(ms).toBeUndefined();
    },
  );

  it.each(['0m', '0s0h'])('rejects the zero span %j', (text) => {
    const ms = parseSpan(text);

    expect(ms).toBeUndefined();
  });
});

describe('parseRetention', () => {
  it.each([
    ['7days', 7, 'day'],
    ['1day', 1, 'day'],
    ['90d', 90, 'day'],
    ['2w', 2, 'week'],
    ['1week', 1, 'week'],
    ['4weeks', 4, 'week'],
    ['3months', 3, 'month'],
    ['1month', 1, 'month'],
    ['6m', 6, 'month'],
    ['1year', 1, 'year'],
    ['7years', 7, 'year'],
    ['2y', 2, 'year'],
  ])('parses %s', (text, count, unit) => {
    const period = parseRetention(text);

    expect(period).toEqual({ count, unit });
  });

  it('accepts a space between number and unit, any letter case and surrounding whitespace', () => {
    const spaced = parseRetention('30 days');
    const shouting = parseRetention('7YEARS');
    const padded = parseRetention(' 2w ');

    expect(spaced).toEqual({ count: 30, unit: 'day' });
    expect(shouting).toEqual({ count: 7, unit: 'year' });
    expect(padded).toEqual({ count: 2, unit: 'week' });
  });

  it.each([
    '',
    '7',
    'days',
    '0d',
    '0years',
    '-1d',
    '1.5y',
    '7dayz',
    '7 fortnights',
    '7d2w',
    '24h',
    '30s',
    'd7',
  ])('rejects malformed %j', (text) => {
    const period = parseRetention(text);

    expect(period).toBeUndefined();
  });
});

describe('retentionCutoff', () => {
  it.each([
    ['2026-03-31T00:00:00.000Z', 1, 'month', '2026-02-28T00:00:00.000Z'],
    ['2028-03-31T08:00:00.000Z', 1, 'month', '2028-02-29T08:00:00.000Z'],
    ['2026-05-31T00:00:00.000Z', 3, 'month', '2026-02-28T00:00:00.000Z'],
    ['2026-01-15T00:00:00.000Z', 3, 'month', '2025-10-15T00:00:00.000Z'],
    ['2028-02-29T05:00:00.000Z', 1, 'year', '2027-02-28T05:00:00.000Z'],
    ['2026-11-26T10:00:00.000Z', 7, 'year', '2019-11-26T10:00:00.000Z'],
  ] as const)(
    'from %s back %i %s lands on %s, clamped to the shorter month',
    (now, count, unit, expected) => {
      const cutoff = retentionCutoff(new Date(now), { count, unit });

      expect(cutoff.toISOString()).toBe(expected);
    },
  );

  it('goes back whole days in UTC, keeping the time of day', () => {
    const now = new Date('2026-03-10T12:34:56.789Z');

    const cutoff = retentionCutoff(now, { count: 7, unit: 'day' });

    expect(cutoff.toISOString()).toBe('2026-03-03T12:34:56.789Z');
  });

  it('is exact multiples of 24 hours across a daylight-saving change (UTC has none)', () => {
    const now = new Date('2026-04-05T00:00:00Z');

    const cutoff = retentionCutoff(now, { count: 90, unit: 'day' });

    expect(now.getTime() - cutoff.getTime()).toBe(90 * DAY);
  });

  it('counts a week as seven days', () => {
    const now = new Date('2026-01-10T06:00:00Z');

    const cutoff = retentionCutoff(now, { count: 2, unit: 'week' });

    expect(cutoff.toISOString()).toBe('2025-12-27T06:00:00.000Z');
  });

  it('goes back calendar months, not 30-day blocks', () => {
    const now = new Date('2026-03-15T08:30:00Z');

    const cutoff = retentionCutoff(now, { count: 1, unit: 'month' });

    expect(cutoff.toISOString()).toBe('2026-02-15T08:30:00.000Z');
    expect(now.getTime() - cutoff.getTime()).toBe(28 * DAY);
  });

  it('crosses a year boundary when going back months', () => {
    const now = new Date('2026-02-20T00:00:00Z');

    const cutoff = retentionCutoff(now, { count: 3, unit: 'month' });

    expect(cutoff.toISOString()).toBe('2025-11-20T00:00:00.000Z');
  });

  it('goes back calendar years, counting the leap day', () => {
    const now = new Date('2024-03-15T00:00:00Z');

    const cutoff = retentionCutoff(now, { count: 1, unit: 'year' });

    expect(cutoff.toISOString()).toBe('2023-03-15T00:00:00.000Z');
    expect(now.getTime() - cutoff.getTime()).toBe(366 * DAY);
  });

  it('goes back seven years', () => {
    const now = new Date('2033-07-04T10:00:00Z');

    const cutoff = retentionCutoff(now, { count: 7, unit: 'year' });

    expect(cutoff.toISOString()).toBe('2026-07-04T10:00:00.000Z');
  });

  it('does not change the date it was given', () => {
    const now = new Date('2026-03-10T12:00:00Z');

    retentionCutoff(now, { count: 1, unit: 'year' });

    expect(now.toISOString()).toBe('2026-03-10T12:00:00.000Z');
  });
});

describe('formatRetention', () => {
  it('uses the singular for one and the plural otherwise', () => {
    const one = formatRetention({ count: 1, unit: 'year' });
    const many = formatRetention({ count: 90, unit: 'day' });

    expect(one).toBe('1 year');
    expect(many).toBe('90 days');
  });
});

describe('formatSpan', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [SECOND, '1s'],
    [93 * SECOND, '1m 33s'],
    [HOUR, '1h'],
    [HOUR + 30 * MINUTE, '1h 30m'],
    [7 * DAY, '7d'],
  ])('formats %d ms as %s', (ms, expected) => {
    const text = formatSpan(ms);

    expect(text).toBe(expected);
  });

  it('shows only the two largest units', () => {
    const text = formatSpan(90_061_000); // 1d 1h 1m 1s

    expect(text).toBe('1d 1h');
  });

  it('rounds to whole seconds, carrying into the next unit', () => {
    const halfUp = formatSpan(1_500);
    const carried = formatSpan(59_600);

    expect(halfUp).toBe('2s');
    expect(carried).toBe('1m');
  });

  it('never shows a negative duration', () => {
    const text = formatSpan(-5);

    expect(text).toBe('0ms');
  });
});
