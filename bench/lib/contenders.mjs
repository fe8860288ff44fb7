// The contenders, each measured on the same data on the same machine. Every function returns
// one sample: { ms, peakRssKiB?, tempBytes?, outBytes?, steps? } (ms = wall time).
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tableCounts } from './datagen.mjs';
import { du, startDiskSampler } from './disk.mjs';
import { BENCH_LABEL, BUSYBOX_IMAGE, NAMES } from './docker.mjs';
import { run, sh } from './proc.mjs';

/** The dump drbot runs (src/engine/backup/sources.ts, as built), so every contender dumps the same way. */
const { MYSQL_DUMP_ARGS } = await import('../../dist/src/engine/backup/sources.js').catch((err) => {
  throw new Error(`drbot is not built (run \`npm run build\` first): ${err.message}`);
});
export const DUMP_ARGS = ['--user=root', ...MYSQL_DUMP_ARGS];
const DUMP_SH = `docker exec -e MYSQL_PWD "$1" mariadb-dump ${DUMP_ARGS.join(' ')}`;

const tarOut = (...extra) => [
  'run',
  '--rm',
  '--log-driver',
  'none',
  '--label',
  BENCH_LABEL,
  '-v',
  `${NAMES.files}:/data:ro`,
  ...extra,
  BUSYBOX_IMAGE,
];

// ---------------------------------------------------------------------------------------------
// Physical limit: read both sources and throw the bytes away, nothing else
// ---------------------------------------------------------------------------------------------

/** `mariadb-dump … > /dev/null` (the dump leaves the container through docker exec, as it must). */
export async function limitDump(ctx) {
  const r = await run('docker', ['exec', '-e', 'MYSQL_PWD', NAMES.db, 'mariadb-dump', ...DUMP_ARGS], {
    env: ctx.dbEnv,
    stdout: 'null',
  });
  return { ms: r.ms };
}

/** `tar cf - -C /data . > /dev/null` in a busybox container on the volume. */
export async function limitTar() {
  const r = await run('docker', [...tarOut(), 'tar', 'cf', '-', '-C', '/data', '.'], { stdout: 'null' });
  return { ms: r.ms };
}

/** Both at once, as drbot does them (two assets in parallel): the floor for a backup. */
export async function limitBoth(ctx) {
  const t0 = performance.now();
  const [d, t] = await Promise.all([limitDump(ctx), limitTar(ctx)]);
  return { ms: performance.now() - t0, steps: { dump: d.ms, tar: t.ms } };
}

/** Byte counts of both raw streams (also warms the page cache before the first sample). */
export async function rawSizes(ctx) {
  const d = await sh(`${DUMP_SH} | wc -c`, [NAMES.db], { env: ctx.dbEnv });
  const t = await sh('"$@" | wc -c', ['docker', ...tarOut(), 'tar', 'cf', '-', '-C', '/data', '.']);
  return { dumpBytes: Number(d.stdout.trim()), tarBytes: Number(t.stdout.trim()) };
}

// ---------------------------------------------------------------------------------------------
// The naive script: dump to a file, gzip it, tar the volume into a file, upload both
// ---------------------------------------------------------------------------------------------

async function fileSize(p) {
  return (await stat(p)).size;
}

export async function naiveScript(ctx) {
  const base = join(ctx.root, 'naive');
  const scratch = join(base, 'scratch');
  const out = join(base, 'out');
  await rm(base, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  await mkdir(out, { recursive: true });
  const sampler = await startDiskSampler([scratch]);
  const steps = {};
  const step = async (name, fn) => {
    const t = performance.now();
    await fn();
    steps[name] = performance.now() - t;
  };
  const t0 = performance.now();
  const key = `naive/${Date.now()}`;
  await step('dump', () =>
    sh(`${DUMP_SH} > "$2"`, [NAMES.db, join(scratch, 'dump.sql')], { env: ctx.dbEnv }),
  );
  await step('gzip', () =>
    sh('gzip -c "$1" > "$2" && rm -f "$1"', [join(scratch, 'dump.sql'), join(out, 'dump.sql.gz')]),
  );
  await step('tar', () =>
    run('docker', [
      ...tarOut('-v', `${out}:/backup`),
      'tar',
      'czf',
      '/backup/files.tar.gz',
      '-C',
      '/data',
      '.',
    ]),
  );
  await step('upload', async () => {
    await ctx.s3.upload(join(out, 'dump.sql.gz'), `${key}/dump.sql.gz`);
    await ctx.s3.upload(join(out, 'files.tar.gz'), `${key}/files.tar.gz`);
  });
  const ms = performance.now() - t0;
  const disk = await sampler.stop();
  const outBytes = (await fileSize(join(out, 'dump.sql.gz'))) + (await fileSize(join(out, 'files.tar.gz')));
  await rm(base, { recursive: true, force: true });
  await ctx.s3.removePrefix('naive/');
  return { ms, tempBytes: disk.extraPeak, outBytes, steps };
}

// ---------------------------------------------------------------------------------------------
// restic: the volume's files and the dump stream (`--stdin`) into a fresh local repository
// ---------------------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noTemplateCurlyInString: a shell script, not a template
const RESTIC_FROM_TAR = '"${@:3}" | "$1" backup --quiet --host bench --stdin --stdin-filename "$2"';

export async function restic(ctx) {
  const base = join(ctx.root, 'restic');
  const repo = join(base, 'repo');
  const tmp = join(base, 'tmp');
  const cache = join(base, 'cache');
  await rm(base, { recursive: true, force: true });
  for (const d of [tmp, cache]) await mkdir(d, { recursive: true });
  const env = {
    RESTIC_REPOSITORY: repo,
    RESTIC_PASSWORD: ctx.resticPassword,
    RESTIC_CACHE_DIR: cache,
    TMPDIR: tmp,
    ...ctx.dbEnv,
  };
  // A new repository each time: restic deduplicates, and a second backup into the same
  // repository would measure an incremental run, not a full one.
  await run(ctx.restic.bin, ['init', '--quiet'], { env });
  const sampler = await startDiskSampler([tmp, cache]);
  const t0 = performance.now();
  const files = ctx.volumeMountpoint
    ? run(ctx.restic.bin, ['backup', '--quiet', '--host', 'bench', '.'], {
        env,
        cwd: ctx.volumeMountpoint,
        rss: true,
      })
    : sh(
        RESTIC_FROM_TAR,
        [ctx.restic.bin, 'files.tar', 'docker', ...tarOut(), 'tar', 'cf', '-', '-C', '/data', '.'],
        { env, rss: true },
      );
  const timedPart = async (p) => {
    const r = await p;
    return { ...r, endMs: performance.now() - t0 };
  };
  const [f, d] = await Promise.all([
    timedPart(files),
    timedPart(
      sh(
        `${DUMP_SH} | "$2" backup --quiet --host bench --stdin --stdin-filename dump.sql`,
        [NAMES.db, ctx.restic.bin],
        {
          env,
          rss: true,
        },
      ),
    ),
  ]);
  const ms = performance.now() - t0;
  const disk = await sampler.stop();
  const outBytes = await du(repo);
  await rm(base, { recursive: true, force: true });
  return {
    ms,
    peakRssKiB: Math.max(f.peakRssKiB ?? 0, d.peakRssKiB ?? 0) || undefined,
    cpuMs: f.cpuMs !== undefined && d.cpuMs !== undefined ? f.cpuMs + d.cpuMs : undefined,
    tempBytes: disk.extraPeak,
    outBytes,
    steps: { files: f.endMs, dump: d.endMs },
  };
}

// ---------------------------------------------------------------------------------------------
// drbot
// ---------------------------------------------------------------------------------------------

/** The `drbot` command as installed (bin/drbot.js, run through its own `#!` line and flags). */
export function drbotCli(ctx, args, opts = {}) {
  return run(ctx.drbotBin, args, {
    env: ctx.ws.env,
    cwd: ctx.ws.dir,
    ...opts,
  });
}

function parseJson(res, what) {
  try {
    return JSON.parse(res.stdout);
  } catch {
    throw new Error(
      `${what}: exit ${res.code}, output is not JSON:\n${res.stdout.slice(-800)}\n${res.stderr.slice(-800)}`,
    );
  }
}

/** Stage durations and timeline of a run, from `drbot run <id> --json` (best effort). */
async function timeline(ctx, runId) {
  try {
    const res = await drbotCli(ctx, ['run', runId, '--json'], { check: false });
    const events = parseJson(res, 'drbot run').data?.events ?? [];
    const stages = {};
    for (const e of events)
      if (e.type === 'stage-end' && e.stage && typeof e.data?.ms === 'number') stages[e.stage] = e.data.ms;
    return { stages, events };
  } catch {
    return { stages: {}, events: [] };
  }
}

async function findSetDir(root, setId) {
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(root, e.name);
    if (e.name === setId) return p;
    const hit = await findSetDir(p, setId);
    if (hit) return hit;
  }
  return undefined;
}

/** `drbot backup all` to local + S3, as cron would run it. */
export function drbotBackup(ctx) {
  return drbotBackupTo(ctx, ctx.ws.env, true);
}

/** The same with the S3 copy confirmed by downloading it (`confirm: read-back`). */
export function drbotBackupReadBack(ctx) {
  return drbotBackupTo(ctx, ctx.ws.readBackEnv, false);
}

/** The same encrypted with age to one recipient (`encryption.recipients`): what encryption costs. */
export function drbotBackupEncrypted(ctx) {
  return drbotBackupTo(ctx, ctx.ws.encryptedEnv, false);
}

/** The same to the local directory only: drbot's pipeline without the S3 server's share. */
export function drbotBackupLocal(ctx) {
  return drbotBackupTo(ctx, ctx.ws.localEnv, false);
}

async function drbotBackupTo(ctx, env, restorable) {
  const { ws } = ctx;
  const sampler = await startDiskSampler([ws.tmpDir, ws.dir], { exclude: [ws.backupDir, ws.stateDir] });
  const res = await drbotCli(ctx, ['backup', 'all', '--json'], { rss: true, check: false, env });
  const disk = await sampler.stop();
  const out = parseJson(res, 'drbot backup all');
  const data = out.data ?? {};
  if (!out.ok || data.status !== 'succeeded') {
    throw new Error(
      `drbot backup all failed (exit ${res.code}): ${(data.failures ?? [out.text]).join(' | ')}`,
    );
  }
  const assets = (data.artifacts ?? []).map((a) => a.asset).sort();
  if (assets.join(',') !== [...ctx.expectedAssets].sort().join(',')) {
    throw new Error(
      `drbot backed up ${assets.join(', ')}, expected only ${ctx.expectedAssets.join(', ')}: other protected assets appeared on this Docker host during the bench; rerun when it is idle`,
    );
  }
    if (restorable) {
    const dbArtifact = data.artifacts.find((a) => a.asset === ctx.dbAsset);
    const setDir = await findSetDir(ws.backupDir, data.setId);
    ctx.latestDump = setDir ? join(setDir, dbArtifact.file) : undefined;
  }
  const { stages } = await timeline(ctx, data.run.id);
  return {
    ms: res.ms,
    peakRssKiB: res.peakRssKiB,
    cpuMs: res.cpuMs,
    tempBytes: disk.extraPeak,
    outBytes: data.artifacts.reduce((n, a) => n + a.size, 0),
    steps: {
      ...Object.fromEntries(Object.entries(stages).map(([k, v]) => [`stage:${k}`, v])),
      ...Object.fromEntries(data.artifacts.map((a) => [`artifact:${a.asset}`, a.ms])),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------------------------

async function checkRestored(ctx, what) {
  const got = await tableCounts(ctx.dbEnv);
  for (const [t, n] of Object.entries(ctx.expectedCounts)) {
    if (got[t] !== n)
      throw new Error(`${what}: benchshop.${t} has ${got[t]} rows after the restore, expected ${n}`);
  }
}

/** `gunzip -c dump.sql.gz | docker exec -i mariadb` with drbot's own artifact (a plain .sql.gz). */
export async function rawRestore(ctx) {
  if (!ctx.latestDump) throw new Error('no dump to restore: no drbot backup has run yet');
  const r = await sh(
    'gunzip -c "$1" | docker exec -i -e MYSQL_PWD "$2" mariadb -uroot',
    [ctx.latestDump, NAMES.db],
    {
      env: ctx.dbEnv,
    },
  );
  await checkRestored(ctx, 'gunzip | mariadb');
  return { ms: r.ms };
}

/** `drbot restore db-only --yes`: assess, verify, safety snapshot, load, readiness, postmortem. */
export async function drbotRestore(ctx) {
  const { ws } = ctx;
  const sampler = await startDiskSampler([ws.tmpDir, ws.dir], { exclude: [ws.backupDir, ws.stateDir] });
  const res = await drbotCli(ctx, ['restore', 'db-only', '--yes', '--json'], { rss: true, check: false });
  const disk = await sampler.stop();
  const out = parseJson(res, 'drbot restore db-only');
  if (!out.ok || out.data?.status !== 'succeeded') {
    throw new Error(
      `drbot restore db-only failed (exit ${res.code}): ${(out.data?.failures ?? [out.text]).join(' | ')}`,
    );
  }
  await checkRestored(ctx, 'drbot restore db-only');
  const { stages, events } = await timeline(ctx, out.data.run.id);
  const steps = Object.fromEntries(Object.entries(stages).map(([k, v]) => [`stage:${k}`, v]));
  // Inside the restore stage: the safety snapshot (a full dump to the local target), then the load.
  const start = events.find((e) => e.type === 'stage-start' && e.stage === 'restore');
  const snap = events.find((e) => e.type === 'info' && /^safety snapshot \S+ complete/.test(e.message));
  if (start && snap) steps.safetySnapshot = new Date(snap.at).getTime() - new Date(start.at).getTime();
  const loaded = events.map((e) => /: loaded .* in ([\d.]+)s$/.exec(e.message)).find(Boolean);
  if (loaded) steps.load = Number(loaded[1]) * 1000;
  return { ms: res.ms, peakRssKiB: res.peakRssKiB, cpuMs: res.cpuMs, tempBytes: disk.extraPeak, steps };
}
