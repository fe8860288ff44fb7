#!/usr/bin/env node
// `npm run bench:scale`: issue 16's benchmark — a synthetic catalog of N sets, every read's work, and the running Slack app's answers and event loop during a backup and a restore.
import './lib/quiet-warnings.mjs';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { generateDatabase, tableCounts } from './lib/datagen.mjs';
import { BENCH_LABEL, BUSYBOX_IMAGE, DB_IMAGE, docker, imageExists, NAMES, removeBenchObjects, startDatabase } from './lib/docker.mjs';
import { run } from './lib/proc.mjs';
import { S3_ENV, startS3 } from './lib/s3.mjs';
import { cachedCatalog, landmarks, SCALE_ASSETS, SET_INTERVAL_MS } from './lib/scale-catalog.mjs';
import { burstSummary, evaluateGoals, markdown, readSummary } from './lib/scale-report.mjs';
import { BOT_TOKEN, burst, SIGNING_SECRET, startFakeSlack } from './lib/scale-slack.mjs';

const REPO = resolve(import.meta.dirname, '..');

const USAGE = `usage: npm run bench:scale -- --sets N [options]

  --sets N       backup sets in the catalog (default 1000; issue 16's goal is at 1000000)
  --small N      the small catalog the same reads run against, to compare memory (default 100)
  --seed S       catalog and data seed (default 42)
  --data SIZE    the database backed up and restored while Slack requests arrive (default 1GiB)
  --repeat R     times each read runs (default 7)
  --burst K      concurrent signed /dr status per burst (default 50)
  --out DIR      where results go (default bench/results)
  --cache DIR    where generated catalogs are kept (default $TMPDIR/drbot-scale-cache)
  --profile DIR  write a V8 CPU profile of the app process to DIR (where its time went)
  --keep         keep the temp dir, containers and volumes afterwards

quick run: npm run bench:scale -- --sets 1000 --data 16MiB
Build drbot first (npm run build). Needs Docker and the test images (scripts/test-env/images.sh).
Run it under flock /tmp/drbot-fixture.lock when other Docker work shares the host.`;

const log = (...a) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}]`, ...a);
const usageError = (message) => Object.assign(new Error(message), { usage: true });

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(String(text).trim());
  if (!m) throw usageError(`bad size '${text}': use e.g. 16MiB, 1GiB`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const bytes = Math.round(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
  if (bytes < 4 * 1024 ** 2) throw usageError(`--data ${text} is too small: at least 4MiB`);
  const label = bytes % 1024 ** 3 === 0 ? `${bytes / 1024 ** 3}GiB` : `${Math.round(bytes / 1024 ** 2)}MiB`;
  return { label, bytes };
}

function parseArgs(argv) {
  const o = {
    sets: 1000,
    small: 100,
    seed: 42,
    data: '1GiB',
    repeat: 7,
    burst: 50,
    out: join(REPO, 'bench', 'results'),
    cache: join(tmpdir(), 'drbot-scale-cache'),
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw usageError(`${flag} needs a value`);
      return v;
    };
    const whole = (name, v, min) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < min) throw usageError(`${name} must be a whole number ≥ ${min}`);
      return n;
    };
    switch (flag) {
      case '--sets':
        o.sets = whole('--sets', value(), 10);
        break;
      case '--small':
        o.small = whole('--small', value(), 10);
        break;
      case '--seed':
        o.seed = whole('--seed', value(), 0);
        break;
      case '--data':
        o.data = value();
        break;
      case '--repeat':
        o.repeat = whole('--repeat', value(), 1);
        break;
      case '--burst':
        o.burst = whole('--burst', value(), 1);
        break;
      case '--out':
        o.out = resolve(value());
        break;
      case '--cache':
        o.cache = resolve(value());
        break;
      case '--profile':
        o.profile = resolve(value());
        break;
      case '--keep':
        o.keep = true;
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw usageError(`unknown option ${a}\n\n${USAGE}`);
    }
  }
  o.dataSize = parseSize(o.data);
  o.data = o.dataSize.label;
  return o;
}

async function preflight() {
  for (const f of ['app.js', 'adapters/sqlite/sqlite-store.js', 'front/slack/app.js'])
    if (!existsSync(join(REPO, 'dist', 'src', f))) throw new Error('drbot is not built: run `npm run build` first');
  if ((await run('docker', ['info'], { check: false })).code !== 0)
    throw new Error('no Docker engine answers (docker info fails): start one (scripts/test-env/docker-up.sh)');
  for (const image of [DB_IMAGE, BUSYBOX_IMAGE])
    if (!(await imageExists(image)))
      throw new Error(`image ${image} is missing: build the test images (scripts/test-env/images.sh)`);
}

async function machineInfo() {
  const git = async (args) => (await run('git', args, { cwd: REPO, check: false })).stdout.trim();
  return {
    machine: {
      cpu: cpus()[0]?.model?.trim() ?? 'unknown CPU',
      cores: cpus().length,
      memGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      docker: (await docker(['version', '--format', '{{.Server.Version}}'])).trim(),
    },
    drbot: {
      commit: (await git(['rev-parse', '--short', 'HEAD'])) || 'unknown',
      dirty: (await git(['status', '--porcelain', '--', 'src', 'commands'])).length > 0,
    },
  };
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** The volumes of the catalog's assets (empty: only the database is backed up here). */
async function createVolumes() {
  for (const a of SCALE_ASSETS.filter((x) => !x.database))
    await docker(['volume', 'create', '--label', BENCH_LABEL, '--label', 'tier=scale', a.name]);
}

/** drbot.yaml for one catalog: its state file, local dir + S3, the bench's tier and databases. */
function writeConfig(dir, { state, s3, n }) {
  // Long enough that no set that is not pruned has expired: a steady state, where each prune
  // takes the few that aged out since the last.
  const retentionDays = Math.ceil((n * SET_INTERVAL_MS) / 86_400_000) + 2;
  const config = {
    state,
    storage: {
      local: { dir: join(dir, 'backups') },
      s3: { bucket: s3.bucket, prefix: `scale-${n}`, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true },
    },
    tiers: { scale: { rpo: '26h', rto: '4h', schedule: '*/5 * * * *', retention: `${retentionDays}d` } },
    databases: SCALE_ASSETS.filter((a) => a.database).map((a) => ({
      name: a.name,
      container: NAMES.db,
      engine: 'mariadb',
      tier: 'scale',
      user: 'root',
      passwordEnv: 'MYSQL_ROOT_PASSWORD',
    })),
    slack: { approvers: ['U0APPROVER'], operators: ['U0OPERATOR'], alertsChannel: 'C0ALERTS' },
  };
  const path = join(dir, 'drbot.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

/** The app process (bench/lib/scale-app.mjs) and a call/answer channel to it. */
async function startApp(env, profile) {
  const child = fork(join(import.meta.dirname, 'lib', 'scale-app.mjs'), [], {
    // As `npm start` runs the app; gc() only between measurements, for clean memory figures.
    execArgv: [
      '--expose-gc',
      '--max-semi-space-size=2',
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    ],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let next = 0;
  let exited;
  const exit = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  exit.then((x) => {
    exited = x;
    for (const { reject } of pending.values()) reject(new Error(`the app process exited (${x.code ?? x.signal})`));
    pending.clear();
  });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the app process exited with ${code} before it was ready`)));
  });
  child.on('message', (m) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`app: ${m.error}`));
  });
  return {
    pid: child.pid,
    call(cmd, args) {
      if (exited) return Promise.reject(new Error('the app process is gone'));
      const id = ++next;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, args });
      });
    },
    async stop() {
      if (exited) return;
      await this.call('close').catch(() => undefined);
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Opens a copy of one catalog in a fresh app process and runs every read. */
async function measureCatalog(ctx, n, { keepOpen }) {
  const catalog = await cachedCatalog({ n, seed: ctx.opts.seed, cacheDir: ctx.opts.cache, log });
  const dir = join(ctx.root, `n${n}`);
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const state = join(dir, 'state.sqlite');
  const c0 = performance.now();
  copyFileSync(catalog.file, state);
  log(`   copied the state file (${(catalog.bytes / 1024 ** 2).toFixed(0)} MiB) in ${((performance.now() - c0) / 1000).toFixed(1)} s`);
  const configPath = writeConfig(dir, { state, s3: ctx.s3, n });
  const app = await startApp({
    ...S3_ENV,
    DRBOT_CONFIG: configPath,
    MYSQL_ROOT_PASSWORD: ctx.password,
    TMPDIR: join(dir, 'tmp'),
    LOG_LEVEL: 'warn',
  }, keepOpen ? ctx.opts.profile : undefined);
  ctx.apps.add(app);
  // The engine's clock starts at the newest set, however long ago the catalog was generated.
  const opened = await app.call('open', { offsetMs: Date.now() - catalog.anchor });
  log(`   ${n.toLocaleString('en')} sets: start-up ${opened.startup.cpuMs.toFixed(0)} ms CPU; reading`);
  const r = await app.call('reads', { repeat: ctx.opts.repeat, marks: landmarks(n) });
  const reads = r.reads.map(readSummary);
  for (const x of reads)
    log(
      `     ${x.name.padEnd(32)} ${x.error ? `FAILED ${x.error.slice(0, 200)}` : `CPU median ${x.cpuMedianMs.toFixed(1)} ms, max ${x.cpuMaxMs.toFixed(1)} ms; wall median ${x.wallMedianMs.toFixed(1)} ms`}`,
    );
  const result = {
    n,
    catalog: {
      file: catalog.file,
      cached: catalog.cached,
      generatedAt: catalog.generatedAt,
      generateMs: catalog.generateMs,
      rowsMs: catalog.rowsMs,
      indexMs: catalog.indexMs,
      counts: catalog.counts,
      totalRows: catalog.totalRows,
      bytes: catalog.bytes,
      schema: catalog.schema,
    },
    startup: opened.startup,
    hasPlanRetention: opened.hasPlanRetention,
    hasCompactCatalog: opened.hasCompactCatalog,
    reads,
    samples: r.reads,
    memory: { base: r.base, after: r.after, peakRss: r.peakRss },
  };
  if (!keepOpen) {
    await app.stop();
    ctx.apps.delete(app);
    rmSync(dir, { recursive: true, force: true });
  }
  return { result, app, dir };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Bursts of signed /dr status during a run: this many at most, this far apart. */
const RUN_BURSTS = 5;
const BURST_GAP_MS = 3000;

/**
 * A burst of signed /dr status with the event loop measured around it; during a run, a burst
 * every few seconds while it lasts (its stages differ), all counted together.
 */
async function phase(ctx, app, label, { run, loopGoal }) {
  await app.call('loopStart');
  const t0 = performance.now();
  const load = [loadavg()[0]];
  let runResult;
  let results = [];
  let bursts = 0;
  let lastBurstEnd = 0;
  const windows = [];
  const timedBurst = async () => {
    const from = Date.now();
    const r = await burst(ctx.fake, ctx.appBase, { count: ctx.opts.burst });
    windows.push([from, Date.now()]);
    return r;
  };
  if (run) {
    await app.call('start', { key: label, kind: run.kind, args: run.args });
    // Into the run: past its start-up, into the dump or the load.
    await sleep(run.burstAfterMs);
    do {
      results = results.concat(await timedBurst());
      lastBurstEnd = performance.now() - t0;
      bursts++;
      if (bursts >= RUN_BURSTS || (await app.call('ended', { key: label })).ended) break;
      await sleep(BURST_GAP_MS);
    } while (!(await app.call('ended', { key: label })).ended);
    runResult = await app.call('wait', { key: label });
  } else {
    results = await timedBurst();
    bursts = 1;
  }
  const loop = await app.call('loopStop');
  load.push(loadavg()[0]);
  const b = { ...burstSummary(results), bursts };
  const during = runResult ? lastBurstEnd < runResult.wallMs : undefined;
  log(
    `   ${label}: acks p50 ${b.ackP50Ms?.toFixed(1)} / p99 ${b.ackP99Ms?.toFixed(1)} ms, ${b.answeredOk}/${b.sent} answered; loop p99 ${loop.p99.toFixed(1)} / max ${loop.max.toFixed(1)} ms${runResult ? `; run ${runResult.status} in ${(runResult.wallMs / 1000).toFixed(1)} s${during ? '' : ' (the last burst ended after the run)'}` : ''}`,
  );
  return {
    label,
    loopGoal,
    burst: b,
    loop,
    burstWindows: windows,
    load1: load,
    ...(runResult ? { run: runResult, burstDuringRun: during } : {}),
    requests: results.map(({ id, status, ackMs, answered, answerMs, answerOk }) => ({
      id,
      status,
      ackMs,
      answered,
      answerMs,
      answerOk,
    })),
  };
}

async function slackPhases(ctx, app) {
  ctx.fake = await startFakeSlack();
  const port = await freePort();
  await app.call('slack', { port, apiUrl: ctx.fake.url, secret: SIGNING_SECRET, token: BOT_TOKEN });
  ctx.appBase = `http://127.0.0.1:${port}`;
  // The first request makes Bolt check its token (auth.test): not part of a burst.
  const first = await burst(ctx.fake, ctx.appBase, { count: 1 });
  const phases = [];
  // The first burst meets an app that has answered once: most of its code not yet optimised.
  phases.push(await phase(ctx, app, 'right after start-up, nothing running', { loopGoal: false }));
  phases.push(await phase(ctx, app, 'with nothing running', { loopGoal: false }));
  const before = await tableCounts(ctx.dbEnv);
  // About when the dump is well under way; small data finishes sooner, and the report says so.
  const burstAfterMs = Math.min(5000, Math.max(1500, ctx.opts.dataSize.bytes / (64 * 1024 ** 2) * 1000));
  const backup = await phase(ctx, app, `during a ${ctx.opts.data} backup`, {
    loopGoal: true,
    run: { kind: 'backup', args: { target: 'bench-db' }, burstAfterMs },
  });
  phases.push(backup);
  if (backup.run?.status === 'succeeded' && backup.run.setId) {
    const restore = await phase(ctx, app, `during a ${ctx.opts.data} restore`, {
      loopGoal: true,
      run: { kind: 'restore', args: { asset: 'bench-db', from: backup.run.setId }, burstAfterMs },
    });
    const after = await tableCounts(ctx.dbEnv);
    restore.rowsRestored = JSON.stringify(after) === JSON.stringify(before);
    if (!restore.rowsRestored) ctx.notes.push(`the restore did not bring back the same rows: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    phases.push(restore);
  } else {
    ctx.notes.push(`the backup did not succeed (${backup.run?.status}: ${backup.run?.error ?? backup.run?.failures?.join(' | ')}), so no restore was measured`);
  }
  for (const p of phases.filter((x) => x.run && !x.burstDuringRun))
    ctx.notes.push(`${p.label}: the run ended before the last burst of /dr status was over (a larger --data keeps it running longer)`);
  return { firstRequest: { ackMs: first[0]?.ackMs, answered: first[0]?.answered }, phases };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  log(`${opts.sets.toLocaleString('en')} sets (and ${opts.small} to compare), seed ${opts.seed}, data ${opts.data}`);
  await preflight();
  const root = mkdtempSync(join(tmpdir(), 'drbot-scale-'));
  const ctx = { opts, root, apps: new Set(), notes: [], password: `scale-${randomBytes(12).toString('hex')}` };
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const app of ctx.apps) await app.stop().catch(() => undefined);
    await ctx.fake?.stop().catch(() => undefined);
    await ctx.s3?.stop().catch(() => undefined);
    if (opts.keep) {
      log(`--keep: left ${root}, container ${NAMES.db} and the bench volumes`);
      return;
    }
    await removeBenchObjects().catch((e) => log(`cleanup: ${e.message}`));
    rmSync(root, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      cleanup().finally(() => process.exit(130));
    });
  try {
    const info = await machineInfo();
    const loadAtStart = loadavg();
    // The catalogs first: generating a large one is the longest step, and needs no Docker.
    for (const n of [opts.small, opts.sets]) await cachedCatalog({ n, seed: opts.seed, cacheDir: opts.cache, log });
    await removeBenchObjects(); // leftovers of a run that was killed hard
    log(`starting MariaDB and generating ${opts.data} of data`);
    ctx.dbEnv = await startDatabase(ctx.password);
    await createVolumes();
    mkdirSync(join(root, 's3'));
    ctx.s3 = await startS3(join(root, 's3'), 'drbot-scale');
    const g0 = performance.now();
    const rows = await generateDatabase({ env: ctx.dbEnv, seed: opts.seed, targetBytes: opts.dataSize.bytes, log });
    const dataMs = performance.now() - g0;

    const catalogs = [];
    if (opts.small !== opts.sets) catalogs.push((await measureCatalog(ctx, opts.small, { keepOpen: false })).result);
    const large = await measureCatalog(ctx, opts.sets, { keepOpen: true });
    catalogs.push(large.result);
    // A catalog straight from the generator was never compacted: bring it to the steady state
    // a running drbot keeps (the backup below would otherwise do all of it), and measure that.
    log(`catalog upkeep at ${opts.sets.toLocaleString('en')} sets (engine.compactCatalog)`);
    const upkeep = await large.app.call('upkeep');
    if (upkeep.missing) ctx.notes.push('engine.compactCatalog() does not exist in this build: catalog upkeep was not measured');
    else
      log(
        `   ${JSON.stringify(upkeep.report)} in ${(upkeep.wallMs / 1000).toFixed(1)} s (${(upkeep.cpuMs / 1000).toFixed(1)} s CPU); loop p99 ${upkeep.loop.p99.toFixed(1)} / max ${upkeep.loop.max.toFixed(1)} ms`,
      );
    // The same reads on the steady-state catalog (what a running drbot has).
    const steady = await large.app.call('reads', { repeat: opts.repeat, marks: landmarks(opts.sets) });
    const steadyReads = steady.reads.map(readSummary);
    for (const x of steadyReads)
      log(
        `     after upkeep: ${x.name.padEnd(32)} ${x.error ? `FAILED ${x.error.slice(0, 200)}` : `CPU median ${x.cpuMedianMs.toFixed(1)} ms, max ${x.cpuMaxMs.toFixed(1)} ms`}`,
      );
    large.result.afterUpkeep = {
      reads: steadyReads,
      samples: steady.reads,
      memory: { base: steady.base, after: steady.after, peakRss: steady.peakRss },
    };
    log(`the Slack app at ${opts.sets.toLocaleString('en')} sets`);
    const slack = await slackPhases(ctx, large.app);

    const result = {
      startedAt: started.toISOString(),
      options: { sets: opts.sets, small: opts.small, seed: opts.seed, data: opts.data, repeat: opts.repeat, burst: opts.burst },
      ...info,
      loadAvg: loadAtStart,
      data: { rows, generateMs: dataMs },
      catalogs,
      upkeep,
      slack,
      notes: ctx.notes,
    };
    if (!large.result.hasPlanRetention)
      ctx.notes.push('engine.planRetention() does not exist in this build: retention planning was not measured');
    result.goals = evaluateGoals(result);
    result.totalMs = performance.now() - t0;
    result.finishedAt = new Date().toISOString();
    const md = markdown(result);
    mkdirSync(opts.out, { recursive: true });
    const stamp = `${started.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z')}-${opts.sets}`;
    const write = (name, text) => {
      const p = join(opts.out, name);
      writeFileSync(`${p}.tmp`, text);
      renameSync(`${p}.tmp`, p);
      return p;
    };
    const json = `${JSON.stringify(result, null, 2)}\n`;
    write(`scale-${stamp}.json`, json);
    const mdPath = write(`scale-${stamp}.md`, `${md}\n`);
    write('scale-latest.json', json);
    write('scale-latest.md', `${md}\n`);
    console.log(`\n${md}\n`);
    log(`results: ${mdPath} (and scale-latest.md / scale-latest.json)`);
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(`[scale] FAILED: ${err.usage ? err.message : (err.stack ?? err.message)}`);
  process.exitCode = 1;
});

