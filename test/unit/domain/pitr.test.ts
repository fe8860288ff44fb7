import { describe, expect, it } from 'vitest';
import { parseSpan } from '../../../src/domain/duration.js';
import {
  baseKey,
  chainEnd,
  logChains,
  logKey,
  type PitrBase,
  type PitrLog,
  parsePointInTime,
  parseStamp,
  planPointInTime,
  recoveryWindows,
  sqlDatetime,
  stopDatetime,
  walKey,
  walSequence,
} from '../../../src/domain/pitr.js';

const T = Date.parse('2026-11-29T06:00:00Z');
const at = (s: number) => new Date(T + s * 1000);

/** Log n covers seconds [10n, 10n + 10): consecutive logs chain. */
function log(n: number, status: PitrLog['status'] = 'complete'): PitrLog {
  const name = `mysql-bin.${String(n).padStart(6, '0')}`;
  return {
    asset: 'db',
    name,
    seq: n,
    key: logKey('db', name, at(10 * n)),
    firstAt: at(10 * n),
    lastAt: at(10 * n + 10),
    size: 100,
    rawSize: 400,
    sha256: 'x',
    archivedAt: at(10 * n + 11),
    status,
    error: status === 'failed' ? 'local: missing' : undefined,
    targets: ['local'],
  };
}
const base = (s: number, deepVerified = true): PitrBase => ({
  setId: `set-${s}`,
  createdAt: at(s),
  deepVerified,
});

describe('log chains', () => {
  it('splits at a missing sequence number and at a failed log, naming what is missing', () => {
    const logs = [log(1), log(2), log(4), log(5, 'failed'), log(6)];

    const { chains, gaps } = logChains(logs);

    expect(chains.map((c) => c.logs.map((l) => l.seq))).toEqual([[1, 2], [4], [6]]);
    expect(gaps.map((g) => g.missing)).toEqual([['mysql-bin.000003'], ['mysql-bin.000005 (local: missing)']]);
    expect(gaps[0]?.after?.seq).toBe(2);
    expect(gaps[0]?.before?.seq).toBe(4);
  });

  it('keys a log under pitr/<asset>/ with its first event time', () => {
    expect(log(3).key).toBe('pitr/db/20261129T060030Z-mysql-bin.000003.gz');
  });
});

describe('recovery windows and the plan for a target time', () => {
  const logs = [log(1), log(2), log(3), log(4)];

  it('runs from the oldest dump a chain extends to the last whole second of its newest log', () => {
    const windows = recoveryWindows(logs, [base(25), base(35)]);

    expect(windows).toHaveLength(1);
    expect(windows[0]?.from).toEqual(at(25));
    expect(windows[0]?.to).toEqual(at(49));
  });

  it('picks the newest dump before the target and the logs from the one open at its time to the target', () => {
    const plan = planPointInTime(logs, [base(15), base(25), base(45)], at(33.4));

    expect(plan?.base.setId).toBe('set-25');
    expect(plan?.logs.map((l) => l.seq)).toEqual([2, 3]);
  });

  it('has no plan for a time before the first dump, after the newest log, or across a gap', () => {
    const gapped = [log(1), log(2), log(4)];

    expect(planPointInTime(logs, [base(25)], at(20))).toBeUndefined();
    expect(planPointInTime(logs, [base(25)], at(50))).toBeUndefined();
    expect(planPointInTime(gapped, [base(15)], at(42))).toBeUndefined();
    expect(recoveryWindows(gapped, [base(15)]).map((w) => [w.from, w.to])).toEqual([[at(15), at(29)]]);
  });

  it('stops the replay at the second after the target, given in UTC', () => {
    expect(sqlDatetime(stopDatetime(new Date('2026-11-29T06:36:03.700Z')))).toBe('2026-11-29 06:36:04');
  });
});

describe('--to', () => {
  const now = new Date('2026-11-29T07:00:00Z');

  it.each([
    ['-10m', '2026-11-29T06:50:00.000Z'],
    ['-1h30m', '2026-11-29T05:30:00.000Z'],
    ['2026-11-29T06:36:03Z', '2026-11-29T06:36:03.000Z'],
    ['2026-11-29T06:36:03.5+01:00', '2026-11-29T05:36:03.500Z'],
    ['2026-11-29 06:36:03', '2026-11-29T06:36:03.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parsePointInTime(text, now, parseSpan)?.toISOString()).toBe(iso);
  });

  it.each(['yesterday', '-10x', '2026-13-45T99:00:00Z', '10m'])('refuses %s', (text) => {
    expect(parsePointInTime(text, now, parseSpan)).toBeUndefined();
  });
});

/** WAL segment n (timeline 1, 16 MiB segments), shipped by a pass covering [10n, 10n + 10). */
function segment(n: number, status: PitrLog['status'] = 'complete'): PitrLog {
  const name = `00000001${Math.floor(n / 256)
    .toString(16)
    .toUpperCase()
    .padStart(8, '0')}${(n % 256).toString(16).toUpperCase().padStart(8, '0')}`;
  return {
    ...log(n, status),
    name,
    seq: walSequence(name) as number,
    key: walKey('pg', name, at(10 * n), at(10 * n + 10)),
    asset: 'pg',
  };
}
/** A base backup that began in segment `seq` and became consistent at second `s`. */
const physical = (seq: number, s: number): PitrBase => ({
  setId: `pitr/pg/base/${seq}`,
  createdAt: at(s),
  deepVerified: false,
  startSeq: seq,
});

describe('PostgreSQL WAL segments and base backups', () => {
  it('numbers segments across log boundaries, and keys them with the span of their pass', () => {
    expect(walSequence('000000010000000000000007')).toBe(7);
    expect(walSequence('0000000100000001000000FF')).toBe(256 + 255);
    expect(walSequence('000000020000000200000000')).toBe(512);
    expect(walSequence('000000010000000000000007', 64 * 1024 * 1024)).toBe(7);
    expect(walSequence('000000010000000100000000', 64 * 1024 * 1024)).toBe(64);
    expect(walSequence('mysql-bin.000007')).toBeUndefined();
    expect(walKey('pg', '000000010000000000000007', at(0), at(90))).toBe(
      'pitr/pg/20261129T060000Z-000000010000000000000007_20261129T060130Z.gz',
    );
    expect(baseKey('pg', '000000010000000000000007', at(5), true)).toBe(
      'pitr/pg/base/20261129T060005Z-000000010000000000000007.tar.gz.age',
    );
    expect(parseStamp('20261129T060130Z')).toEqual(at(90));
    expect(parseStamp('2026-11-29')).toBeUndefined();
  });

  it('runs a window from the moment a base became consistent to the exact end of the chain holding its first segment', () => {
    const wal = [255, 256, 257, 258].map((n) => segment(n));
    const [w] = recoveryWindows(wal, [physical(256, 2565.4)]);

    expect(w?.from).toEqual(at(2565.4));
    expect(w?.to).toEqual(at(2590));
    expect(chainEnd({ logs: wal, firstAt: at(2550), lastAt: at(2590) })).toEqual(at(2590));
    // A base whose first segment is not archived has no window.
    expect(recoveryWindows(wal.slice(2), [physical(256, 2565.4)])).toEqual([]);
  });

  it("replays from the base's first segment to the one holding the target, and names a missing segment by its file name", () => {
    const wal = [255, 256, 257, 258, 259].map((n) => segment(n));
    const plan = planPointInTime(wal, [physical(256, 2565), physical(258, 2585)], at(2577));

    expect(plan?.base.setId).toBe('pitr/pg/base/256');
    expect(plan?.logs.map((l) => l.seq)).toEqual([256, 257]);
    // Segments shipped by one pass share its span: all of the pass holding the target are replayed.
    const pass = [256, 257, 258, 259].map((n) => ({ ...segment(n), firstAt: at(2560), lastAt: at(2570.3) }));
    const next = { ...segment(260), firstAt: at(2570.3), lastAt: at(2580) };
    expect(
      planPointInTime([...pass, next], [physical(256, 2561)], at(2570.3))?.logs.map((l) => l.seq),
    ).toEqual([256, 257, 258, 259]);
    expect(planPointInTime(wal, [physical(256, 2565), physical(258, 2585)], at(2595))?.base.setId).toBe(
      'pitr/pg/base/258',
    );
    expect(planPointInTime(wal, [physical(256, 2565)], at(2560))).toBeUndefined();

    const gaps = logChains([segment(255), segment(256), segment(258)]).gaps;
    expect(gaps[0]?.missing).toEqual(['000000010000000100000001']);
  });
});
