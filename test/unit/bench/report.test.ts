import { describe, expect, it } from 'vitest';
import {
  evaluateGoals,
  goalsTable,
  median,
  type Sample,
  type SizeResult,
  s3ServerShare,
  sizeSection,
  summarize,
} from '../../../bench/lib/report.mjs';

/** One size whose contenders each ran the given wall times (ms); other fields as given. */
function size(label: string, runs: Record<string, (number | Partial<Sample>)[]>): SizeResult {
  const summary = Object.fromEntries(
    Object.entries(runs).map(([key, xs]) => [
      key,
      summarize(xs.map((x) => (typeof x === 'number' ? { ms: x } : { ms: 1000, ...x }))),
    ]),
  );
  return { label, summary };
}

const goal = (goals: ReturnType<typeof evaluateGoals>, id: string) => {
  const g = goals.find((x) => x.id === id);
  if (!g) throw new Error(`no goal ${id} in ${goals.map((x) => x.id).join(', ')}`);
  return g;
};

describe('bench report: medians', () => {
  it('takes the middle sample, the mean of the two middle ones for an even count, and skips gaps', () => {
    expect(median([30, 10, 20])).toBe(20);
    expect(median([40, 10, 30, 20])).toBe(25);
    expect(median([undefined, 5, Number.NaN, 7, 6])).toBe(6);
    expect(median([])).toBeUndefined();
  });

  it('summarises wall time, range, the highest RSS, the most temp disk, busy samples and steps', () => {
    const s = summarize([
      { ms: 9000, peakRssKiB: 150_000, tempBytes: 0, steps: { dump: 8000 }, busy: true },
      { ms: 7000, peakRssKiB: 170_000, tempBytes: 4096, steps: { dump: 6000, verify: 300 } },
      { ms: 8000, peakRssKiB: 160_000, tempBytes: 0, steps: { dump: 7000, verify: 500 } },
    ]);
    expect(s).toMatchObject({ n: 3, ms: 8000, minMs: 7000, maxMs: 9000, busy: 1 });
    expect(s.peakRssKiB).toBe(160_000); // the median, for the "flat" goal
    expect(s.maxPeakRssKiB).toBe(170_000); // the highest, for the 200 MB goal
    expect(s.tempBytes).toBe(4096);
    expect(s.steps).toEqual({ dump: 7000, verify: 400 });
  });
});

describe('bench report: goals', () => {
  const sizes = [
    size('256MiB', {
      limitBoth: [5000, 4800, 5200],
      naive: [22_000, 21_000, 23_000],
      restic: [8000, 8100, 7900],
      drbotBackup: [
        { ms: 8200, peakRssKiB: 150_000 },
        { ms: 8000, peakRssKiB: 160_000 },
        { ms: 8400, peakRssKiB: 155_000 },
      ],
      drbotLocal: [6000, 6500, 6200],
      rawRestore: [14_000, 13_000, 15_000],
      drbotRestore: [{ ms: 14_500, peakRssKiB: 130_000 }],
    }),
    size('1GiB', {
      limitBoth: [20_000],
      naive: [90_000],
      restic: [36_000],
      drbotBackup: [{ ms: 34_000, peakRssKiB: 186_000 }],
      drbotLocal: [24_000],
      rawRestore: [64_000],
      drbotRestore: [{ ms: 80_000, peakRssKiB: 200_000 }],
    }),
  ];
  const goals = evaluateGoals(sizes);

  it('computes every ratio from the medians and judges it against its limit, size by size', () => {
    expect(goal(goals, 'vs-limit').values).toEqual([8200 / 5000, 34_000 / 20_000]);
    expect(goal(goals, 'vs-limit').met).toBe(false);
    expect(goal(goals, 'vs-naive').values).toEqual([8200 / 22_000, 34_000 / 90_000]);
    expect(goal(goals, 'vs-naive').met).toBe(true);
    expect(goal(goals, 'restore').values).toEqual([14_500 / 14_000, 80_000 / 64_000]);
    expect(goal(goals, 'restore').met).toBe(false); // 1.25× at 1GiB
  });

  it('misses a goal when one size misses it, even by a little', () => {
    const restic = goal(goals, 'vs-restic');
    expect(restic.values[0]).toBeCloseTo(1.025, 6);
    expect(restic.values[1]).toBeLessThan(1);
    expect(restic.met).toBe(false);
  });

  it('judges peak RSS on the highest sample of backup and restore, in MB', () => {
    const rss = goal(goals, 'rss');
    expect(rss.values[0]).toBeCloseTo((160_000 * 1024) / 1e6, 6);
    expect(rss.values[1]).toBeCloseTo((200_000 * 1024) / 1e6, 6); // the restore's 204.8 MB
    expect(rss.met).toBe(false);
  });

  it('compares the median backup RSS of the largest size with the smallest for "flat"', () => {
    const flat = goal(goals, 'rss-flat');
    expect(flat.values).toEqual([undefined, 186_000 / 155_000]);
    expect(flat.met).toBe(true);
  });

  it('adds the local-only rows only when drbot ran without S3, and marks them as reference', () => {
    expect(goal(goals, 'local-vs-limit')).toMatchObject({ reference: true, met: true });
    const withoutLocal = evaluateGoals([size('64MiB', { limitBoth: [1000], drbotBackup: [1100] })]);
    expect(withoutLocal.map((g) => g.id)).not.toContain('local-vs-limit');
    expect(goal(withoutLocal, 'vs-limit').met).toBe(true);
    // A contender that did not run leaves its goal undecided, never met.
    expect(goal(withoutLocal, 'vs-restic')).toMatchObject({ values: [undefined], met: undefined });
  });

  it('renders the verdicts: bold for goals, in brackets for reference rows, n/a when undecided', () => {
    const table = goalsTable({ sizes, goals });
    expect(table).toContain('| backup ≤ 1.25× raw dump + tar | 1.64× | 1.70× | **missed** |');
    expect(table).toContain('| backup ≤ 0.5× the naive script | 0.37× | 0.38× | **met** |');
    expect(table).toMatch(/\| reference, local only: backup ≤ 1\.25× raw dump \+ tar \| .* \| \(met\) \|/);
    expect(table).toContain('| peak RSS ≤ 200 MB (backup and restore) | 164 MB | 205 MB | **missed** |');
    // The restore goal's text has a `|` inside a code span: escaped, or it would split the cell.
    expect(table).toContain('raw `gunzip \\| mysql`');
    const undecided = goalsTable({
      sizes: [{ label: '64MiB' }],
      goals: evaluateGoals([size('64MiB', { limitBoth: [1000], drbotBackup: [1100] })]),
    });
    expect(undecided).toContain('| backup not slower than restic | – | n/a |');
  });
});

describe("bench report: the S3 server's share of the cores", () => {
  const m = size('1GiB', {
    limitBoth: [20_000],
    drbotBackup: [{ ms: 34_000, s3CpuMs: 10_800 }],
  }).summary;

  it("spreads the S3 server's CPU over the cores and compares it with the limit", () => {
    const share = s3ServerShare(m, 2);
    expect(share).toEqual({ cpuMs: 10_800, wallMs: 5400, ofLimit: 0.27 });
    expect(s3ServerShare(m, 4)?.ofLimit).toBeCloseTo(0.135, 9);
  });

  it('says whether that alone is more than the 1.25× goal leaves for drbot', () => {
    const section = (cores: number) =>
      sizeSection(
        {
          label: '1GiB',
          summary: m,
          data: {
            dumpBytes: 1,
            tarBytes: 1,
            rows: {},
            files: 1,
            volumeBytes: 1,
            innodbBytes: 1,
            generateMs: 1,
          },
        },
        undefined,
        cores,
      );
    expect(section(2)).toContain(
      "The S3 server runs on the same 2 cores. Its 10.8 s of CPU during drbot's backup is 5.4 s of all 2 cores' time: 0.27× of the limit's 20.0 s, more than the 0.25×",
    );
    expect(section(8)).toContain('0.07× of the limit');
    expect(section(8)).toContain('within the 0.25×');
  });

  it('leaves it out when the S3 server idled (under 100 ms) or was not measured', () => {
    const idle = size('1GiB', { limitBoth: [20_000], drbotBackup: [{ ms: 9000, s3CpuMs: 40 }] }).summary;
    expect(s3ServerShare(idle, 2)).toBeUndefined();
    expect(
      s3ServerShare(size('1GiB', { limitBoth: [20_000], drbotBackup: [9000] }).summary, 2),
    ).toBeUndefined();
  });
});

describe('bench report: the cost of encryption', () => {
  it('compares the encrypted backup with the same backup unencrypted, against 1.10×', () => {
    const goals = evaluateGoals([
      size('256MiB', { drbotBackup: [9000, 10_000, 9500], drbotEncrypted: [9800, 10_100, 10_300] }),
      size('1GiB', { drbotBackup: [34_000], drbotEncrypted: [38_000] }),
    ]);

    const cost = goal(goals, 'encryption');
    expect(cost.values[0]).toBeCloseTo(10_100 / 9500, 9);
    expect(cost.values[1]).toBeCloseTo(38_000 / 34_000, 9);
    expect(cost.met).toBe(false); // 1.12× at 1GiB
    expect(goalsTable({ sizes: [{ label: '256MiB' }, { label: '1GiB' }], goals })).toContain(
      '| encryption costs ≤ 10 %: encrypted backup ≤ 1.10× the same backup unencrypted | 1.06× | 1.12× | **missed** |',
    );
  });

  it('is undecided when the encrypted contender was skipped', () => {
    const goals = evaluateGoals([size('64MiB', { drbotBackup: [1000] })]);

    expect(goal(goals, 'encryption')).toMatchObject({ values: [undefined], met: undefined });
  });
});
