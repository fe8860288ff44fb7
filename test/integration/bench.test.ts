import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENDERS, type Goal, type Summary } from '../../bench/lib/report.mjs';

/**
 * `npm run bench` is a benchmark, not a test: its times are never asserted. This runs it once on
 * the smallest data, with every contender, to show that it works on a fresh machine (Docker,
 * images, s3rver, restic, igzip as the test scripts install them) and that its report is
 * computed from what it measured.
 */
const REPO = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);

interface BenchResult {
  options: { sizes: string[]; repeat: number };
  drbot: { commit: string };
  sizes: {
    label: string;
    data: { dumpBytes: number; tarBytes: number; files: number; rows: Record<string, number> };
    samples: Record<string, { ms: number }[]>;
    summary: Record<string, Summary>;
  }[];
  goals: Goal[];
}

let out: string;
let result: BenchResult;
let stdout: string;
const benchDirs = () => readdirSync(tmpdir()).filter((d) => /^drbot-bench-[A-Za-z0-9]{6}$/.test(d));
let dirsBefore: string[];

beforeAll(async () => {
  dirsBefore = benchDirs();
  out = mkdtempSync(join(tmpdir(), 'drbot-bench-test-'));
  const res = await run(
    process.execPath,
    ['bench/run.mjs', '--sizes', '4MiB', '--repeat', '1', '--wait-idle', '2', '--out', out],
    { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LOG_LEVEL: 'warn' } },
  ).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(
      `npm run bench failed: ${err.message}\n${err.stdout?.slice(-3000)}${err.stderr?.slice(-3000)}`,
    );
  });
  stdout = res.stdout;
  result = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult;
}, 600_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Every contender the report knows of: with no --skip, each must have run. */
const KEYS = Object.keys(CONTENDERS);

describe('npm run bench (smallest size, one round)', () => {
  it('writes the report as Markdown and JSON, stamped and as latest', () => {
    const files = readdirSync(out).sort();
    expect(files).toEqual(
      expect.arrayContaining(['latest.json', 'latest.md', expect.stringMatching(/^bench-.*-4MiB\.json$/)]),
    );
    expect(files.filter((f) => /^bench-.*-4MiB\.md$/.test(f))).toHaveLength(1);
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    for (const heading of ['## Goals', '## Results', '### 4MiB', '## Method']) expect(md).toContain(heading);
    expect(md).toContain('**drbot `backup all`** → local + S3');
    expect(stdout).toContain('## Goals');
    expect(result.options).toMatchObject({ sizes: ['4MiB'], repeat: 1 });
    expect(result.drbot.commit).toMatch(/^[0-9a-f]{7,}$/);
  });

  it('measured every contender once, on the data it generated', () => {
    const [size] = result.sizes;
    expect(size?.label).toBe('4MiB');
    if (!size) return;
    expect(size.data.dumpBytes).toBeGreaterThan(2 * 1024 * 1024);
    expect(size.data.tarBytes).toBeGreaterThan(2 * 1024 * 1024);
    expect(size.data.files).toBeGreaterThan(10);
    expect(Object.values(size.data.rows).every((n) => n > 0)).toBe(true);
    for (const key of KEYS) {
      expect(size.samples[key], key).toHaveLength(1);
      expect(size.summary[key]?.ms, key).toBeGreaterThan(0);
    }
  });

  it("reports drbot's memory, CPU, output and temp disk, and the S3 server's CPU", () => {
    const m = result.sizes[0]?.summary ?? {};
    for (const key of ['drbotBackup', 'drbotReadBack', 'drbotLocal', 'drbotRestore']) {
      expect(m[key]?.peakRssKiB, key).toBeGreaterThan(20_000);
      expect(m[key]?.cpuMs, key).toBeGreaterThan(0);
      expect(m[key]?.tempBytes, key).toBeLessThan(64 * 1024); // drbot streams: no temp files
    }
    // drbot's output is the gzip of both sources: smaller than them, and about the same with or
    // without S3 (not to the byte: the dump ends with the time it completed).
    const raw = (result.sizes[0]?.data.dumpBytes ?? 0) + (result.sizes[0]?.data.tarBytes ?? 0);
    expect(m.drbotBackup?.outBytes).toBeGreaterThan(0);
    expect(m.drbotBackup?.outBytes).toBeLessThan(raw);
    const [local, s3] = [m.drbotLocal?.outBytes ?? 0, m.drbotBackup?.outBytes ?? 0];
    expect(Math.abs(local - s3)).toBeLessThan(0.01 * s3);
    // The naive script keeps the uncompressed dump on disk while it gzips it. (Sampled every
    // 200 ms: at this size the sampler may catch the file before it is whole.)
    expect(m.naive?.tempBytes).toBeGreaterThan(0);
  });

  it('judges every goal from those measurements', () => {
    const m = result.sizes[0]?.summary ?? {};
    const byId = Object.fromEntries(result.goals.map((g) => [g.id, g]));
    const ratio = (a: string, b: string) => (m[a]?.ms ?? Number.NaN) / (m[b]?.ms ?? Number.NaN);
    expect(byId['vs-limit']?.values[0]).toBeCloseTo(ratio('drbotBackup', 'limitBoth'), 9);
    expect(byId['vs-naive']?.values[0]).toBeCloseTo(ratio('drbotBackup', 'naive'), 9);
    expect(byId['vs-restic']?.values[0]).toBeCloseTo(ratio('drbotBackup', 'restic'), 9);
    expect(byId['local-vs-limit']?.values[0]).toBeCloseTo(ratio('drbotLocal', 'limitBoth'), 9);
    expect(byId.restore?.values[0]).toBeCloseTo(ratio('drbotRestore', 'rawRestore'), 9);
    for (const g of result.goals) {
      expect(g.met, g.id).toBe((g.values[0] ?? Number.NaN) <= g.limit);
    }
  });

  it('leaves no container, volume or temp directory behind', async () => {
    const ps = await run('docker', ['ps', '-aq', '--filter', 'label=drbot.fixture=bench']);
    const vols = await run('docker', ['volume', 'ls', '-q', '--filter', 'label=drbot.fixture=bench']);
    expect(ps.stdout.trim()).toBe('');
    expect(vols.stdout.trim()).toBe('');
    expect(stdout).not.toContain('--keep: left');
    // Its working directory (data, S3 server, drbot's workspace) is gone too.
    expect(benchDirs().filter((d) => !dirsBefore.includes(d))).toEqual([]);
  });
});
