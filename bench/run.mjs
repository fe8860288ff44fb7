#!/usr/bin/env node
// `npm run bench`: drbot side by side with its physical limit and its peers, on the same
// generated data, interleaved and repeated. See README.md, section "Benchmarks".
import './lib/quiet-warnings.mjs';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { stringify } from 'yaml';
import { foreignCpuNow, startActivityMonitor } from './lib/activity.mjs';
import * as C from './lib/contenders.mjs';
import { generateDatabase, generateVolume, innodbBytes, tableCounts, volumeStats } from './lib/datagen.mjs';
import {
  BUSYBOX_IMAGE,
  createFilesVolume,
  DB_IMAGE,
  DB_TUNING,
  docker,
  imageExists,
  NAMES,
  removeBenchObjects,
  startDatabase,
} from './lib/docker.mjs';
import { cpuTimes, GNU_TIME, killAllChildren, processCpuMs, run, setScratchDir } from './lib/proc.mjs';
import { CONTENDERS, evaluateGoals, markdown, summarize } from './lib/report.mjs';
import { S3_ENV, startS3 } from './lib/s3.mjs';

const REPO = resolve(import.meta.dirname, '..');
const DB_ASSET = 'bench-db';

const USAGE = `usage: npm run bench -- [options]

  --sizes LIST   data sizes to measure, e.g. 256MiB,1GiB (default 128MiB,512MiB: about 15 min
                 on 2 cores; 256MiB,1GiB takes about 30 min)
  --size SIZE    one size (same as --sizes SIZE), e.g. 1GiB
                 each size is the database dump AND the volume (so 1GiB = ~2 GiB of data)
  --repeat N     interleaved rounds per size; medians are reported (default 3)
  --seed N       data seed (default 42): equal seeds give byte-identical data
  --skip LIST    leave out contenders: naive, restic, restore, read-back, encrypted
  --out DIR      where results go (default bench/results)
  --wait-idle M  minutes to wait for other Docker activity to end before a sample (default 20)
  --render FILE  only rewrite FILE.md from a results FILE.json (after report changes)
  --keep         keep the temp dir, containers and volumes afterwards (for debugging)

quick run:  npm run bench -- --sizes 32MiB --repeat 1   (about 1 minute)
Build drbot first (npm run build). Needs Docker and the test images (scripts/test-env/images.sh);
installs restic and igzip (package isal) with apt-get when missing and this runs as root.`;

// ---------------------------------------------------------------------------------------------

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(text.trim());
  if (!m) throw usageError(`bad size '${text}': use e.g. 64MiB, 256MiB, 1GiB`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const bytes = Math.round(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
  if (bytes < 4 * 1024 ** 2) throw usageError(`size '${text}' is too small: at least 4MiB`);
  const label = bytes % 1024 ** 3 === 0 ? `${bytes / 1024 ** 3}GiB` : `${Math.round(bytes / 1024 ** 2)}MiB`;
  return { label, bytes };
}

function usageError(message) {
  return Object.assign(new Error(message), { usage: true });
}

function parseArgs(argv) {
  const o = {
    sizes: '128MiB,512MiB',
    repeat: 3,
    seed: 42,
    skip: [],
    out: join(REPO, 'bench', 'results'),
    keep: false,
    waitIdleMs: 20 * 60_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=')
      ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
      : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw usageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--sizes':
      case '--size':
        o.sizes = value();
        break;
      case '--repeat':
        o.repeat = Number(value());
        break;
      case '--seed':
        o.seed = Number(value());
        break;
      case '--skip':
        o.skip = value().split(',').filter(Boolean);
        break;
      case '--out':
        o.out = resolve(value());
        break;
      case '--wait-idle':
        o.waitIdleMs = Number(value()) * 60_000;
        break;
      case '--render':
        o.render = resolve(value());
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
  if (!Number.isInteger(o.repeat) || o.repeat < 1) throw usageError('--repeat must be a whole number ≥ 1');
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw usageError('--seed must be a whole number ≥ 0');
  for (const s of o.skip)
    if (!['naive', 'restic', 'restore', 'read-back', 'encrypted'].includes(s))
      throw usageError(`--skip: unknown '${s}' (naive, restic, restore, read-back, encrypted)`);
  o.sizeList = o.sizes
    .split(',')
    .filter(Boolean)
    .map(parseSize)
    .sort((a, b) => a.bytes - b.bytes);
  o.sizes = o.sizeList.map((s) => s.label);
  return o;
}

const log = (...a) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------------------------------------------------------------------------------------------
// Preflight
// ---------------------------------------------------------------------------------------------

const isRoot = () => process.getuid?.() === 0;

async function ensureDocker() {
  if ((await run('docker', ['info'], { check: false })).code !== 0) {
    if (!isRoot())
      throw new Error(
        'no Docker engine answers (docker info fails): start one, or run scripts/test-env/docker-up.sh as root',
      );
    log('starting Docker (scripts/test-env/docker-up.sh)');
    await run('bash', [join(REPO, 'scripts/test-env/docker-up.sh')]);
  }
  if (!(await imageExists(DB_IMAGE)) || !(await imageExists(BUSYBOX_IMAGE))) {
    log('building the test images offline (scripts/test-env/images.sh)');
    await run('bash', [join(REPO, 'scripts/test-env/images.sh')]);
  }
}

function ensureBuilt() {
  const entry = join(REPO, 'dist', 'src', 'cli-main.js');
  if (!existsSync(entry)) throw new Error('drbot is not built: run `npm run build` first');
  const built = statSync(entry).mtimeMs;
  const newest = (dir) => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  if (Math.max(newest(join(REPO, 'src')), newest(join(REPO, 'commands'))) > built) {
    log(
      'warning: src/ or commands/ changed after the last build; this measures dist/ as built (run `npm run build`)',
    );
  }
}

/** A tool from a Debian package, installed with apt-get when missing and this runs as root. */
async function ensureTool({ bin, pkg, args, pattern, otherwise }) {
  const version = async () => {
    const r = await run(bin, args, { check: false }).catch(() => undefined);
    return r?.code === 0 ? (pattern.exec(r.stdout)?.[1] ?? r.stdout.trim()) : undefined;
  };
  let v = await version();
  if (v) return { bin, version: v };
  if (!isRoot() || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`${bin} is not installed: install it (Debian: apt-get install ${pkg}) and rerun${otherwise}`);
  }
  log(`installing ${pkg} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env, check: false });
  if ((await install()).code !== 0) {
    await run('apt-get', ['update', '-qq'], { env, check: false });
    const r = await install();
    if (r.code !== 0)
      throw new Error(
        `apt-get install ${pkg} failed:\n${r.stderr.slice(-1000)}\ninstall ${pkg} by hand${otherwise}`,
      );
  }
  v = await version();
  if (!v) throw new Error(`${pkg} was installed but \`${bin} ${args.join(' ')}\` fails`);
  return { bin, version: v };
}

const ensureRestic = () =>
  ensureTool({
    bin: 'restic',
    pkg: 'restic',
    args: ['version'],
    pattern: /restic ([\d.]+)/,
    otherwise: ', or pass --skip restic',
  });

/** drbot compresses with igzip when it is installed (backup.compressor: auto), as in its image. */
/** drbot encrypts with Debian's age when it is installed (encryption.tool: auto), as in its image. */
const ensureAge = () =>
  ensureTool({
    bin: 'age',
    pkg: 'age',
    args: ['--version'],
    pattern: /v?([\d.]+)/,
    otherwise: ' (without it drbot encrypts with the age-encryption package, about 20× slower), or pass --skip encrypted',
  });

const ensureIgzip = () =>
  ensureTool({
    bin: 'igzip',
    pkg: 'isal',
    args: ['--version'],
    pattern: /interface ([\d.]+)/,
    otherwise: ' (without it drbot uses zlib, several times slower)',
  });

async function machineInfo(resticVersion, igzipVersion) {
  const osName = /PRETTY_NAME="?([^"\n]+)/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  const git = async (args) => (await run('git', args, { cwd: REPO, check: false })).stdout.trim();
  return {
    machine: {
      cpu: cpus()[0]?.model?.trim() ?? 'unknown CPU',
      cores: cpus().length,
      memGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
      os: osName,
      kernel: release(),
      node: process.version,
      docker: (await docker(['version', '--format', '{{.Server.Version}}'])).trim(),
      mariadb: `MariaDB ${/Distrib ([\d.]+)/.exec(await docker(['run', '--rm', '--log-driver', 'none', '--entrypoint', 'mariadb', DB_IMAGE, '--version']))?.[1] ?? '?'}`,
            restic: resticVersion,
      igzip: igzipVersion,
      s3rver: JSON.parse(readFileSync(join(REPO, 'node_modules', 's3rver', 'package.json'), 'utf8')).version,
      gnuTime: Boolean(GNU_TIME),
      dbTuning: `${DB_TUNING.bufferPool / 1024 ** 3} GiB, innodb_log_file_size ${DB_TUNING.logFile / 1024 ** 2} MiB`,
    },
    drbot: {
      commit: (await git(['rev-parse', '--short', 'HEAD'])) || 'unknown',
      dirty: (await git(['status', '--porcelain', '--', 'src', 'commands', 'bin'])).length > 0,
    },
  };
}

/**
 * A private copy of the built CLI (dist/ + package.json, node_modules linked), so every sample
 * runs the same build even if dist/ is rebuilt while the bench runs. Returns its entry point.
 */
async function snapshotBuild(root) {
  const dir = join(root, 'drbot');
  cpSync(join(REPO, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(REPO, 'bin'), join(dir, 'bin'), { recursive: true });
  copyFileSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  // drbot runs as users run it: the `drbot` command, with the node flags its `#!` line sets.
  const entry = join(dir, 'bin', 'drbot.js');
  writeFileSync(join(dir, 'empty.yaml'), '{}\n');
  const check = await run(entry, ['help'], {
    check: false,
    cwd: dir,
    env: { DRBOT_CONFIG: join(dir, 'empty.yaml') },
  });
  if (check.code !== 0)
    throw new Error(
      `the copy of drbot's build does not run (was dist/ being rebuilt?):\n${check.stderr.slice(-800)}`,
    );
  return entry;
}

// ---------------------------------------------------------------------------------------------
// Workspace: a drbot.yaml with local dir + S3 (as test/fixtures/cli.ts writes one)
// ---------------------------------------------------------------------------------------------

function workspace(root, label, s3, recipient) {
  const dir = join(root, `ws-${label}`);
  const ws = {
    dir,
    backupDir: join(dir, 'backups'),
    stateDir: join(dir, 'state'),
    tmpDir: join(root, `drbot-tmp-${label}`),
    prefix: `drbot-${label}`,
  };
  for (const d of [ws.backupDir, ws.stateDir, ws.tmpDir]) mkdirSync(d, { recursive: true });
  const config = {
    state: './state/drbot.sqlite',
    storage: {
      local: { dir: './backups' },
      s3: {
        bucket: s3.bucket,
        prefix: ws.prefix,
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        storageClass: 'STANDARD_IA',
      },
    },
    databases: [
      {
        name: DB_ASSET,
        container: NAMES.db,
        engine: 'mariadb',
        tier: 'critical',
        user: 'root',
        passwordEnv: 'MYSQL_ROOT_PASSWORD',
      },
    ],
  };
    ws.configPath = join(dir, 'drbot.yaml');
  writeFileSync(ws.configPath, stringify(config));
  ws.env = { ...S3_ENV, DRBOT_CONFIG: ws.configPath, TMPDIR: ws.tmpDir, LOG_LEVEL: 'warn' };
  // The same state and local directory, without the bucket.
  const { s3: _bucket, ...localStorage } = config.storage;
  ws.localConfigPath = join(dir, 'drbot-local.yaml');
  writeFileSync(ws.localConfigPath, stringify({ ...config, storage: localStorage }));
  ws.localEnv = { ...ws.env, DRBOT_CONFIG: ws.localConfigPath };
  // The same with the S3 copy downloaded again to confirm it.
  ws.readBackConfigPath = join(dir, 'drbot-read-back.yaml');
  writeFileSync(
    ws.readBackConfigPath,
    stringify({ ...config, storage: { ...config.storage, s3: { ...config.storage.s3, confirm: 'read-back' } } }),
  );
  ws.readBackEnv = { ...ws.env, DRBOT_CONFIG: ws.readBackConfigPath };
  // The same encrypted with age to one recipient (no identity: a backup needs none). Its sets
  // go to a catalog, directory and prefix of their own: the restore contenders restore the
  // newest set of the plain catalog, which must stay a plain one.
  ws.encryptedConfigPath = join(dir, 'drbot-encrypted.yaml');
  ws.encryptedPrefix = `${ws.prefix}-encrypted`;
  writeFileSync(
    ws.encryptedConfigPath,
    stringify({
      ...config,
      state: './state/encrypted/drbot.sqlite',
      storage: {
        local: { dir: './backups/encrypted' },
        s3: { ...config.storage.s3, prefix: ws.encryptedPrefix },
      },
      encryption: { recipients: [recipient] },
    }),
  );
  ws.encryptedEnv = { ...ws.env, DRBOT_CONFIG: ws.encryptedConfigPath };
  return ws;
}

/** `backup all` takes every protected asset on the host: make sure those are only ours. */
async function checkInventory(ctx) {
  const res = await C.drbotCli(ctx, ['status', '--json'], { check: false });
  let assets;
  try {
    assets = JSON.parse(res.stdout)
      .data.assets.filter((a) => a.asset.policy.protected)
      .map((a) => a.asset.name);
  } catch {
    throw new Error(
      `drbot status failed (exit ${res.code}):\n${res.stdout.slice(-800)}${res.stderr.slice(-800)}`,
    );
  }
  const foreign = assets.filter((a) => !ctx.expectedAssets.includes(a));
  const missing = ctx.expectedAssets.filter((a) => !assets.includes(a));
  if (missing.length)
    throw new Error(
      `drbot does not see ${missing.join(', ')} as protected assets: ${res.stdout.slice(0, 800)}`,
    );
  if (foreign.length) {
    throw new Error(
      `this Docker host has other protected assets (${foreign.join(', ')}): \`drbot backup all\` would back them up too and skew the numbers. Run the bench on an idle host (e.g. not while the integration tests run).`,
    );
  }
}

// ---------------------------------------------------------------------------------------------

const BACKUP_ORDER = [
  'limitBoth',
  'naive',
  'drbotBackup',
  'limitDump',
  'restic',
  'drbotLocal',
  'drbotReadBack',
  'drbotEncrypted',
  'limitTar',
];
const RESTORE_ORDER = ['rawRestore', 'drbotRestore'];
const RUNNERS = {
  limitBoth: C.limitBoth,
  limitDump: C.limitDump,
  limitTar: C.limitTar,
  naive: C.naiveScript,
  restic: C.restic,
  drbotBackup: C.drbotBackup,
  drbotReadBack: C.drbotBackupReadBack,
  drbotLocal: C.drbotBackupLocal,
  drbotEncrypted: C.drbotBackupEncrypted,
  rawRestore: C.rawRestore,
  drbotRestore: C.drbotRestore,
};
const rotate = (xs, n) => xs.map((_, i) => xs[(i + n) % xs.length]);
/** Rotated every round and reversed every other, so no contender always follows the same one. */
const roundOrder = (xs, r) => rotate(r % 2 ? [...xs].reverse() : xs, Math.floor(r / 2) % xs.length);
const MiB = 1024 * 1024;

const lines = (text) => text.split('\n').filter(Boolean);

/** Protected assets that are not the bench's: `backup all` would pick them up. */
async function foreignAssets() {
  const assets = new Set();
  for (const l of ['tier', 'backup', 'retention']) {
    for (const v of lines(await docker(['volume', 'ls', '-q', '--filter', `label=${l}`])))
      if (v !== NAMES.files) assets.add(v);
  }
  for (const c of lines(await docker(['ps', '-a', '--format', '{{.Names}}', '--filter', 'label=dr.engine'])))
    assets.add(c);
  return [...assets];
}

async function waitIdle(waitMs, ourContainers) {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const assets = await foreignAssets();
    const cpu = assets.length ? { ms: 0, top: [] } : await foreignCpuNow(ourContainers, 1000);
    const busyCpu = cpu.ms > 200; // more than a fifth of a core
    if (!assets.length && !busyCpu) return;
    const what = assets.length
      ? `other protected assets, which \`backup all\` would take too: ${assets.join(', ')}`
      : `other processes use CPU: ${cpu.top.join(', ')}`;
    if (Date.now() > deadline) {
      throw new Error(
        `the host stayed busy for ${Math.round(waitMs / 60000)} min (${what}); rerun on an idle host or raise --wait-idle`,
      );
    }
    if (!told) log(`   waiting for the host to be idle (${what})`);
    told = true;
    await new Promise((r) => setTimeout(r, 5000));
  }
}

/** Whether a sample shared the machine with something else, and with what. */
function disturbance(activity, ms) {
  const cpuLimit = Math.max(1000, 0.03 * ms * cpus().length);
  const parts = [];
  if (activity.dockerEvents.length) parts.push(`Docker: ${activity.dockerEvents.slice(0, 4).join(', ')}`);
  if (activity.foreignCpuMs > cpuLimit)
    parts.push(
      `other processes used ${(activity.foreignCpuMs / 1000).toFixed(1)} s CPU (${activity.top.join(', ')})`,
    );
  return parts.length ? parts.join('; ') : undefined;
}

/**
 * One sample, taken on an idle host. A sample that overlapped other activity (Docker events of
 * other containers or volumes, or CPU used by other processes) is taken again, up to 3 times;
 * the last one is then kept and marked busy.
 */
async function measure(key, ctx, waitMs) {
  for (let attempt = 1; ; attempt++) {
    // What the previous contender wrote (up to 2 GiB for the naive script) is written out
    // now, not by the kernel's flusher while this one runs.
    await run('sync', []);
    await waitIdle(waitMs, ctx.ourContainers);
    const monitor = startActivityMonitor([NAMES.files, NAMES.dbVolume], ctx.ourContainers);
    const load = loadavg()[0];
    const cpu0 = cpuTimes();
    const s30 = processCpuMs(ctx.s3.pid);
    const t0 = performance.now();
    let smp;
    try {
      smp = await RUNNERS[key](ctx);
    } catch (err) {
      const why = disturbance(await monitor.stop(), performance.now() - t0);
      if (!why || attempt >= 3) throw err;
      log(`   ${key} failed while other activity ran (${why}); again: ${err.message.split('\n')[0]}`);
      continue;
    }
    const cpu1 = cpuTimes();
    const s31 = processCpuMs(ctx.s3.pid);
    const why = disturbance(await monitor.stop(), smp.ms);
    const machine = {
      load1: load,
      cpuBusy: (cpu1.busy - cpu0.busy) / Math.max(1, cpu1.total - cpu0.total),
      ...(s30 !== undefined && s31 !== undefined && s31 > s30 ? { s3CpuMs: s31 - s30 } : {}),
    };
    if (!why || attempt >= 3) return { ...smp, ...machine, ...(why ? { busy: true, disturbance: why } : {}) };
    log(`   ${key} (${(smp.ms / 1000).toFixed(1)} s) overlapped other activity (${why}); measuring again`);
  }
}

function sampleLine(key, smp) {
  const parts = [`${(smp.ms / 1000).toFixed(1)} s`];
  if (smp.peakRssKiB) parts.push(`peak RSS ${Math.round((smp.peakRssKiB * 1024) / 1e6)} MB`);
  if (smp.tempBytes !== undefined) parts.push(`temp ${(smp.tempBytes / MiB).toFixed(1)} MiB`);
  if (smp.outBytes) parts.push(`out ${(smp.outBytes / MiB).toFixed(1)} MiB`);
  return `${key.padEnd(12)} ${parts.join(', ')}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.render) {
    const md = markdown(JSON.parse(readFileSync(opts.render, 'utf8')));
    const target = opts.render.replace(/\.json$/, '.md');
    writeFileSync(target, `${md}\n`);
    log(`wrote ${target}`);
    return;
  }
  const started = new Date();
  const t0 = performance.now();
  log(
    `sizes ${opts.sizes.join(', ')} (each: database dump + volume), ${opts.repeat} round(s), seed ${opts.seed}`,
  );
  ensureBuilt();
  await ensureDocker();
  const resticInfo = opts.skip.includes('restic') ? undefined : await ensureRestic();
  const igzipInfo = await ensureIgzip();
  const ageInfo = opts.skip.includes('encrypted') ? undefined : await ensureAge();
  if (!GNU_TIME)
    log('warning: /usr/bin/time not found; peak RSS is polled from /proc (may miss the last peak)');

  const root = mkdtempSync(join(tmpdir(), 'drbot-bench-'));
  setScratchDir(root);
  let s3;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    killAllChildren();
    await s3?.stop().catch(() => undefined);
    if (opts.keep) {
      log(`--keep: left ${root}, container ${NAMES.db} and volumes ${NAMES.files}, ${NAMES.dbVolume}`);
      return;
    }
    await removeBenchObjects().catch((e) => log(`cleanup: ${e.message}`));
    rmSync(root, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      cleanup().finally(() => process.exit(130));
    });
  }

  try {
    const drbotBin = await snapshotBuild(root);
    // A recipient for the encrypted contender; its identity is not needed (nothing is decrypted).
    const recipient = await identityToRecipient(await generateIdentity());
    await removeBenchObjects(); // leftovers of a bench that was killed hard
    const password = `bench-${randomBytes(12).toString('hex')}`;
    const dbEnv = await startDatabase(password);
    const dbContainerId = (await docker(['inspect', '-f', '{{.Id}}', NAMES.db])).trim();
    await createFilesVolume();
    const mountpoint = (await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', NAMES.files])).trim();
    const readable = await access(mountpoint, constants.R_OK).then(
      () => true,
      () => false,
    );
    mkdirSync(join(root, 's3'));
    s3 = await startS3(join(root, 's3'), 'drbot-bench');
    const info = await machineInfo(resticInfo?.version, igzipInfo.version);
    if (ageInfo) info.machine.age = ageInfo.version;
    const result = {
      startedAt: started.toISOString(),
      options: { sizes: opts.sizes, repeat: opts.repeat, seed: opts.seed, skip: opts.skip },
      ...info,
      sizes: [],
    };
    if (resticInfo)
      result.machine.resticReads = readable ? 'volume mountpoint (host files)' : 'tar stream via --stdin';

    let volumeSoFar = 0;
    for (const size of opts.sizeList) {
      log(`== ${size.label}: generating data (seed ${opts.seed})`);
      const g0 = performance.now();
      const rows = await generateDatabase({ env: dbEnv, seed: opts.seed, targetBytes: size.bytes, log });
      await generateVolume({ seed: opts.seed, fromBytes: volumeSoFar, targetBytes: size.bytes, log });
      volumeSoFar = size.bytes;
      const generateMs = performance.now() - g0;
      const ws = workspace(root, size.label, s3, recipient);
      const ctx = {
        root,
        dbEnv,
        s3,
        ws,
        drbotBin,
        dbAsset: DB_ASSET,
        expectedAssets: [DB_ASSET, NAMES.files],
        expectedCounts: await tableCounts(dbEnv),
        restic: resticInfo,
        resticPassword: randomBytes(16).toString('hex'),
        volumeMountpoint: readable ? mountpoint : undefined,
        latestDump: undefined,
        ourContainers: [dbContainerId],
      };
      await waitIdle(opts.waitIdleMs, ctx.ourContainers);
      await checkInventory(ctx);
      const raw = await C.rawSizes(ctx); // also warms the page cache for every contender alike
      const vs = await volumeStats();
      const data = {
        rows,
        dumpBytes: raw.dumpBytes,
        tarBytes: raw.tarBytes,
        innodbBytes: await innodbBytes(dbEnv),
        files: vs.files,
        volumeBytes: size.bytes,
        generateMs,
      };
      log(
        `   dump ${(data.dumpBytes / MiB).toFixed(0)} MiB raw, volume ${data.files} files / tar ${(data.tarBytes / MiB).toFixed(0)} MiB; generated in ${(generateMs / 1000).toFixed(0)} s`,
      );

      const backupKeys = BACKUP_ORDER.filter(
        (k) =>
          !(opts.skip.includes('naive') && k === 'naive') &&
          !(opts.skip.includes('restic') && k === 'restic') &&
          !(opts.skip.includes('read-back') && k === 'drbotReadBack') &&
          !(opts.skip.includes('encrypted') && k === 'drbotEncrypted'),
      );
      const restoreKeys = opts.skip.includes('restore') ? [] : RESTORE_ORDER;
      const samples = Object.fromEntries([...backupKeys, ...restoreKeys].map((k) => [k, []]));
      for (let r = 0; r < opts.repeat; r++) {
        for (const [phase, keys] of [
          ['backup', backupKeys],
          ['restore', restoreKeys],
        ]) {
          if (!keys.length) continue;
          // drbot's backup must run before the first restore has a dump to restore.
          for (const key of roundOrder(keys, r)) {
            if (phase === 'restore' && !ctx.latestDump) throw new Error('no drbot backup to restore from');
            const smp = await measure(key, ctx, opts.waitIdleMs);
            samples[key].push(smp);
            log(`   [${size.label} ${r + 1}/${opts.repeat}] ${sampleLine(key, smp)}`);
          }
        }
      }
      const summary = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
      result.sizes.push({ label: size.label, bytes: size.bytes, data, samples, summary });
      // Each size gets its own workspace; the previous one's sets are not needed any more.
      if (!opts.keep) {
        rmSync(ws.dir, { recursive: true, force: true });
        rmSync(ws.tmpDir, { recursive: true, force: true });
        await s3.removePrefix(`${ws.prefix}/`);
        await s3.removePrefix(`${ws.encryptedPrefix}/`);
      }
    }

    result.totalMs = performance.now() - t0;
    result.finishedAt = new Date().toISOString();
    result.goals = evaluateGoals(result.sizes);
    result.contenders = CONTENDERS;
    const md = markdown(result);
    mkdirSync(opts.out, { recursive: true });
    const stamp = `${started
      .toISOString()
      .replace(/[:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}-${opts.sizes.join('_')}`;
    const write = (name, text) => {
      const p = join(opts.out, name);
      writeFileSync(`${p}.tmp`, text);
      renameSync(`${p}.tmp`, p);
      return p;
    };
    const json = `${JSON.stringify(result, null, 2)}\n`;
    write(`bench-${stamp}.json`, json);
    const mdPath = write(`bench-${stamp}.md`, `${md}\n`);
    write('latest.json', json);
    write('latest.md', `${md}\n`);
    console.log(`\n${md}\n`);
    log(`results: ${mdPath} (and latest.md / latest.json)`);
  } catch (err) {
    // Say so when the bench's own objects vanished under it: that is someone else's cleanup.
    if (!cleaned) {
      const gone = [];
      if ((await run('docker', ['inspect', NAMES.db], { check: false })).code !== 0)
        gone.push(`container ${NAMES.db}`);
      if ((await run('docker', ['volume', 'inspect', NAMES.files], { check: false })).code !== 0)
        gone.push(`volume ${NAMES.files}`);
      if (gone.length) {
        err.message += `\n(${gone.join(' and ')} disappeared during the run: something else removed them, e.g. the integration suite's setup, which removes every drbot.fixture object; run the bench on an idle host)`;
      }
    }
    throw err;
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  // Bad options are the user's to fix: the message is enough. Anything else gets its stack.
  console.error(`[bench] FAILED: ${err.usage ? err.message : (err.stack ?? err.message)}`);
  process.exitCode = 1;
});
