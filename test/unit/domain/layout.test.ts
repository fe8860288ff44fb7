import { describe, expect, it } from 'vitest';
import { artifactKey, newSetId, SET_ID_PATTERN, setDirectory } from '../../../src/domain/layout.js';

describe('newSetId', () => {
  it('encodes the UTC date and time and the random suffix', () => {
    const at = new Date('2026-11-26T14:15:02.123Z');

    const id = newSetId(at, () => '3fa9');

    expect(id).toBe('set-20261126-141502-3fa9');
    expect(id).toMatch(SET_ID_PATTERN);
  });

  it('uses UTC, not the local time zone', () => {
    const at = new Date('2026-01-01T23:30:00-05:00'); // 04:30 UTC the next day

    const id = newSetId(at, () => '0000');

    expect(id).toBe('set-20260102-043000-0000');
  });

  it('matches SET_ID_PATTERN with the default random suffix, which varies', () => {
    const at = new Date('2026-05-05T05:05:05Z');

    const ids = Array.from({ length: 20 }, () => newSetId(at));

    for (const id of ids) expect(id).toMatch(SET_ID_PATTERN);
    expect(new Set(ids).size).toBeGreaterThan(1);
  });

  it('sorts as text in the order of time', () => {
    const times = [
      '2026-12-31T23:59:59Z',
      '2026-01-01T00:00:00Z',
      '2025-12-31T23:59:59Z',
      '2026-01-01T00:00:01Z',
      '2026-01-01T09:00:00Z',
      '2026-01-01T10:00:00Z',
    ].map((t) => new Date(t));

    const ids = times.map((t) => newSetId(t, () => 'ffff'));

    const byText = [...ids].sort();
    const byTime = [...times].sort((a, b) => a.getTime() - b.getTime()).map((t) => newSetId(t, () => 'ffff'));
    expect(byText).toEqual(byTime);
  });

  it.each([
    'set-20261126-141502-3FA9',
    'set-2026112-141502-3fa9',
    'set-20261126-141502-3fa',
    'x-20261126-141502-3fa9',
  ])('SET_ID_PATTERN rejects %s', (id) => {
    const matches = SET_ID_PATTERN.test(id);

    expect(matches).toBe(false);
  });
});

describe('setDirectory and artifactKey', () => {
  it('lays a set out as YYYY/MM/DD/<set-id> with zero-padded month and day', () => {
    const at = new Date('2026-03-04T05:06:07Z');

    const dir = setDirectory('set-20260304-050607-abcd', at);

    expect(dir).toBe('2026/03/04/set-20260304-050607-abcd');
  });

  it('puts an artifact file inside its set directory', () => {
    const at = new Date('2026-11-26T14:15:02Z');

    const key = artifactKey('set-20261126-141502-3fa9', at, 'app-data.tar.gz');

    expect(key).toBe('2026/11/26/set-20261126-141502-3fa9/app-data.tar.gz');
  });

  it('uses the UTC date, so a set made just before local midnight lands on the UTC day', () => {
    const at = new Date('2026-12-31T22:00:00-05:00'); // 2027-01-01T03:00Z

    const key = artifactKey('set-20270101-030000-0000', at, 'main.sql.gz');

    expect(key).toBe('2027/01/01/set-20270101-030000-0000/main.sql.gz');
  });
});
