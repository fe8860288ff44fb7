import { describe, expect, it } from 'vitest';
import {
  firesInMinute,
  isValidCron,
  longestInterval,
  nextSlot,
  previousSlot,
} from '../../../src/domain/cron.js';

const at = (hh: number, mm: number, ss = 0) => new Date(2026, 10, 26, hh, mm, ss);

describe('cron helpers (local time, like cron)', () => {
  it('finds the previous and next slot', () => {
    expect(previousSlot('*/10 * * * *', at(12, 7, 30))).toEqual(at(12, 0));
    expect(previousSlot('*/10 * * * *', at(12, 10))).toEqual(at(12, 10));
    expect(nextSlot('*/10 * * * *', at(12, 7, 30))).toEqual(at(12, 10));
  });

  it('knows whether a schedule fires in the minute of a moment', () => {
    expect(firesInMinute('*/10 * * * *', at(12, 10, 42))).toBe(true);
    expect(firesInMinute('*/10 * * * *', at(12, 11, 0))).toBe(false);
    expect(firesInMinute('0 2 * * *', at(2, 0, 59))).toBe(true);
  });

  it('measures the longest gap between runs', () => {
    expect(longestInterval('*/10 * * * *', at(12, 0))).toBe(10 * 60_000);
    expect(longestInterval('0 2 * * *', at(12, 0))).toBe(24 * 3600_000);
    expect(longestInterval('0 9,17 * * *', at(12, 0))).toBe(16 * 3600_000);
  });

  it('validates five-field expressions only', () => {
    expect(isValidCron('0 2 * * *')).toBe(true);
    expect(isValidCron('0 2 * *')).toBe(false);
    expect(isValidCron('every day')).toBe(false);
    expect(isValidCron('61 * * * *')).toBe(false);
  });
});
