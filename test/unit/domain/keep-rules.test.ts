import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config.js';
import { formatRetention, parseRetention } from '../../../src/domain/duration.js';
import { bucketStart, keptByRules, olderThanIn, parseKeepRules } from '../../../src/domain/keep-rules.js';
import { planPrune } from '../../../src/domain/retention.js';

const at = (iso: string) => new Date(iso);

describe('keep rules: parsing', () => {
  it.each([
    ['7d+4w+12m', { daily: 7, weekly: 4, monthly: 12 }],
    ['3l+24h', { last: 3, hourly: 24 }],
    ['24hourly', { hourly: 24 }],
    ['30daily', { daily: 30 }],
    ['2 yearly+1last', { yearly: 2, last: 1 }],
  ])('%s is a keep rule value', (text, rules) => {
    expect(parseKeepRules(text)).toEqual(rules);
    expect(parseRetention(text)).toEqual({ count: 0, unit: 'day', keep: rules });
  });

  it.each(['7d', '7days', '1year', '12m'])('%s without a + stays an age', (text) => {
    expect(parseKeepRules(text)).toBeUndefined();
    expect(parseRetention(text)?.keep).toBeUndefined();
  });

  it('does not read a short unit alone as a rule (24h is no retention at all)', () => {
    expect(parseKeepRules('24h')).toBeUndefined();
    expect(parseRetention('24h')).toBeUndefined();
  });

  it('refuses a rule given twice or keeping nothing, naming the rule', () => {
    expect(() => parseKeepRules('7d+3daily')).toThrow('keep rule daily is given twice');
    expect(() => parseKeepRules('0d+4w')).toThrow('keep rule daily must keep at least 1');
    expect(parseRetention('7d+7d')).toBeUndefined();
  });

  it('formats what it keeps', () => {
    expect(formatRetention({ count: 0, unit: 'day', keep: { daily: 7, monthly: 12 } })).toBe(
      'keep 7 daily, 12 monthly',
    );
    expect(formatRetention({ count: 1, unit: 'year', keep: { weekly: 4 } })).toBe('1 year + keep 4 weekly');
  });

  it('takes keep rules in a tier as a string or an object, alongside the age, and refuses bad ones', () => {
    const config = buildConfig({
      tiers: {
        gfs: { schedule: '0 * * * *', retention: '7d+4w' },
        both: { schedule: '0 * * * *', retention: '90days', keep: { monthly: 12, yearly: 3 } },
      },
    });
    expect(config.tierMap.get('gfs')?.retention).toEqual({
      count: 0,
      unit: 'day',
      keep: { daily: 7, weekly: 4 },
    });
    expect(config.tierMap.get('both')?.retention).toEqual({
      count: 90,
      unit: 'day',
      keep: { monthly: 12, yearly: 3 },
    });
    expect(() => buildConfig({ tiers: { x: { keep: { daily: 0 } } } })).toThrow(/tiers\.x\.keep/);
    expect(() => buildConfig({ tiers: { x: { keep: '7x+2w' } } })).toThrow(/keep rules joined by \+/);
    expect(() => buildConfig({ tiers: { x: { retention: '7d+1w', keep: '1y+1m' } } })).toThrow(
      /given both in retention and in keep/,
    );
  });
});

describe('keep rules: what they keep', () => {
  it('buckets by UTC hour, day, ISO week from Monday, month and year', () => {
    const t = at('2026-11-19T15:42:10Z'); // a Thursday
    expect(bucketStart('hourly', t).toISOString()).toBe('2026-11-19T15:00:00.000Z');
    expect(bucketStart('daily', t).toISOString()).toBe('2026-11-19T00:00:00.000Z');
    expect(bucketStart('weekly', t).toISOString()).toBe('2026-11-16T00:00:00.000Z');
    expect(bucketStart('weekly', at('2026-11-16T00:00:00Z')).toISOString()).toBe('2026-11-16T00:00:00.000Z');
    expect(bucketStart('weekly', at('2026-11-15T23:59:59Z')).toISOString()).toBe('2026-11-09T00:00:00.000Z');
    expect(bucketStart('monthly', t).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(bucketStart('yearly', t).toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('keeps the newest set of each of the N most recent buckets, each rule on its own', () => {
    const sets = [
      { id: 'a', time: at('2026-11-19T10:00:00Z') },
      { id: 'b', time: at('2026-11-19T08:00:00Z') },
      { id: 'c', time: at('2026-11-18T23:00:00Z') },
      { id: 'd', time: at('2026-11-10T12:00:00Z') },
      { id: 'e', time: at('2026-10-01T12:00:00Z') },
    ];
    const kept = keptByRules({ last: 2, daily: 3, monthly: 2 }, olderThanIn(sets));
    expect(Object.fromEntries(kept)).toEqual({
      a: ['last', 'daily', 'monthly'],
      b: ['last'],
      c: ['daily'],
      d: ['daily'],
      e: ['monthly'],
    });
  });

  it('with an age too, keeps what either keeps; unverified sets newer than the newest verified wait for their verify', () => {
    const now = at('2026-11-20T00:00:00Z');
    const retained = [
      { setId: 'new-unverified', asset: 'v', setTime: at('2026-11-19T12:00:00Z'), verified: false },
      { setId: 'verified-1', asset: 'v', setTime: at('2026-11-18T12:00:00Z'), verified: true },
      { setId: 'old-unverified', asset: 'v', setTime: at('2026-11-17T12:00:00Z'), verified: false },
      { setId: 'monthly-kept', asset: 'v', setTime: at('2026-10-02T12:00:00Z'), verified: true },
      { setId: 'old', asset: 'v', setTime: at('2026-09-20T12:00:00Z'), verified: true },
    ];
    const kept = new Map([
      [
        'v',
        new Map([
          ['monthly-kept', ['monthly' as const]],
          ['verified-1', ['monthly' as const]],
        ]),
      ],
    ]);
    const plan = planPrune(
      now,
      retained,
      () => ({ count: 1, unit: 'day', keep: { monthly: 2 } }),
      new Set(),
      kept,
    );
    expect(plan.expire.map((e) => e.setId)).toEqual(['old-unverified', 'old']);
    expect(plan.awaitingVerify.map((e) => e.setId)).toEqual([]);
    // Without the age rule, the newest set is kept as ever, and so is a newer unverified one.
    const gfsOnly = planPrune(
      now,
      retained,
      () => ({ count: 0, unit: 'day', keep: { monthly: 2 } }),
      new Set(),
      kept,
    );
    expect(gfsOnly.expire.map((e) => e.setId)).toEqual(['old-unverified', 'old']);
  });
});
