// `npm run bench:scale` at a tiny size: its report's shape, and figures and verdicts computed from what it measured (no timing asserted).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const SETS = 60;
const SMALL = 20;
const REPEAT = 2;
const BURST = 5;

interface Read {
  name: string;
  calls: number;
  cpuMaxMs: number;
  cpuMedianMs: number;
  wallMedianMs: number;
  error?: string;
}
interface Catalog {
  n: number;
  catalog: { counts: Record<string, number>; totalRows: number; bytes: number; generateMs: number };
  reads: Read[];
  samples: { name: string; samples: { cpuMs: number; wallMs: number }[] }[];
  memory: { base: { heapUsed: number; rss: number }; after: { heapUsed: number }; peakRss: number };
  hasPlanRetention: boolean;
}
interface Phase {
  label: string;
  burst: { sent: number; bursts: number; acked: number; answeredOk: number; ackP99Ms: number };
  loop: { p99: number; max: number; count: number; stalls?: { heldMs: number }[] };
  run?: { status: string; setId?: string; wallMs: number };
}
interface ScaleResult {
  options: { sets: number; small: number; seed: number; data: string; repeat: number; burst: number };
  machine: { cores: number; node: string };
  drbot: { commit: string };
  catalogs: Catalog[];
  upkeep?: { missing?: boolean; report: Record<string, number>; loop: { p99: number; max: number } };
  slack: { phases: Phase[] };
  goals: { goal: string; figure: string; verdict: string }[];
}

let out: string;
let result: ScaleResult;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'drbot-scale-test-'));
  await run(
    process.execPath,
    [
      'bench/scale.mjs',
      ...['--sets', String(SETS), '--small', String(SMALL), '--data', '4MiB'],
      ...['--repeat', String(REPEAT), '--burst', String(BURST)],
      ...['--out', out, '--cache', join(out, 'cache')],
    ],
    { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LOG_LEVEL: 'warn' } },
  ).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(
      `npm run bench:scale failed: ${err.message}\n${err.stdout?.slice(-3000)}${err.stderr?.slice(-3000)}`,
    );
  });
  result = JSON.parse(readFileSync(join(out, 'scale-latest.json'), 'utf8')) as ScaleResult;
}, 600_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('npm run bench:scale (tiny catalog)', () => {
  it('writes Markdown and JSON, stamped with N and as latest', () => {
    const files = readdirSync(out);

    const md = readFileSync(join(out, 'scale-latest.md'), 'utf8');

    expect(files).toEqual(
      expect.arrayContaining([
        'scale-latest.json',
        'scale-latest.md',
        expect.stringMatching(new RegExp(`^scale-.*-${SETS}\\.json$`)),
        expect.stringMatching(new RegExp(`^scale-.*-${SETS}\\.md$`)),
      ]),
    );
    for (const heading of [
      '## Goals',
      '## Catalogs',
      `## Reads at ${SETS} sets`,
      `## Reads at ${SMALL} sets`,
    ])
      expect(md).toContain(heading);
    expect(md).toContain('## The running app');
    expect(result.options).toMatchObject({
      sets: SETS,
      small: SMALL,
      data: '4MiB',
      repeat: REPEAT,
      burst: BURST,
    });
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.drbot.commit).toMatch(/^[0-9a-f]{7,}$/);
  });

  it('generated both catalogs with every row the brief asks for', () => {
    expect(result.catalogs.map((c) => c.n)).toEqual([SMALL, SETS]);

    for (const c of result.catalogs) {
      expect(c.catalog.counts).toEqual({
        runs: c.n,
        run_events: 10 * c.n,
        sets: c.n,
        artifacts: 5 * c.n,
        locations: 10 * c.n,
      });
      expect(c.catalog.bytes).toBeGreaterThan(0);
    }
  });

  it('ran every read at both sizes, each as often as asked, without errors', () => {
    const names = [
      'status',
      'policy',
      'runs (first page)',
      'runs --before (deep in history)',
      'run <id> (newest)',
      'run <id> (oldest)',
      '/metrics scrape',
      'RPO sweep',
    ];

    for (const c of result.catalogs) {
      const expected = c.hasPlanRetention ? [...names, 'retention planning'] : names;
      expect(c.reads.map((r) => r.name)).toEqual(expected);
      for (const r of c.reads) {
        expect(r.error).toBeUndefined();
        expect(r.calls).toBe(REPEAT);
        const s = c.samples.find((x) => x.name === r.name)?.samples ?? [];
        expect(r.cpuMaxMs).toBe(Math.max(...s.map((x) => x.cpuMs)));
      }
      expect(c.memory.peakRss).toBeGreaterThanOrEqual(c.memory.base.rss);
    }
  });

  it('answered every signed /dr status of every burst, and backed up and restored', () => {
    const phases = result.slack.phases;

    expect(phases).toHaveLength(4);
    for (const p of phases) {
      expect(p.burst.bursts).toBeGreaterThanOrEqual(1);
      expect(p.burst).toMatchObject({
        sent: BURST * p.burst.bursts,
        acked: BURST * p.burst.bursts,
        answeredOk: BURST * p.burst.bursts,
      });
      expect(Number.isFinite(p.loop.max)).toBe(true);
    }
    expect(phases.filter((p) => p.run).map((p) => p.run?.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('gives each goal a verdict that follows from its figure', () => {
    const large = result.catalogs.at(-1) as Catalog;

    for (const r of large.reads) {
      const goal = result.goals.find((g) => g.goal.startsWith(`${r.name}:`));
      expect(goal?.verdict).toBe(r.cpuMaxMs <= 200 ? 'met' : 'NOT met');
    }
    for (const p of result.slack.phases.filter((x) => x.run)) {
      const goal = result.goals.find(
        (g) => g.goal === `event-loop delay ${p.label}: p99 ≤ 20 ms, max ≤ 100 ms`,
      );
      const worst = Math.max(p.loop.max, ...(p.loop.stalls ?? []).map((x) => x.heldMs));
      expect(goal?.verdict).toBe(p.loop.p99 <= 20 && worst <= 100 ? 'met' : 'NOT met');
    }
    for (const g of result.goals) expect(['met', 'NOT met', 'not measured']).toContain(g.verdict);
  });
});

describe('the scale catalog generator', () => {
  it('writes the same rows for the same N, seed and time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbot-scale-gen-'));
    const { generateCatalog } = (await import('../../bench/lib/scale-catalog.mjs' as string)) as {
      generateCatalog(o: { file: string; n: number; seed: number; anchor: number }): Promise<unknown>;
    };
    const digest = (file: string) => {
      const db = new Database(file, { readonly: true });
      const h = createHash('sha256');
      for (const t of ['runs', 'run_events', 'sets', 'artifacts', 'locations', 'run_assets'])
        h.update(JSON.stringify(db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).raw().all()));
      db.close();
      return h.digest('hex');
    };

    try {
      const anchor = Date.UTC(2026, 0, 1);
      await generateCatalog({ file: join(dir, 'a.sqlite'), n: 30, seed: 7, anchor });
      await generateCatalog({ file: join(dir, 'b.sqlite'), n: 30, seed: 7, anchor });
      await generateCatalog({ file: join(dir, 'c.sqlite'), n: 30, seed: 8, anchor });

      expect(digest(join(dir, 'a.sqlite'))).toBe(digest(join(dir, 'b.sqlite')));
      expect(digest(join(dir, 'a.sqlite'))).not.toBe(digest(join(dir, 'c.sqlite')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
