#!/usr/bin/env node
// `npm run bench:pitr [-- --engine postgres]`: point-in-time recovery's cost on a write-heavy
// MariaDB or PostgreSQL (archive passes while it writes, against no archiving) and the speed of
// replaying the archived binary logs / WAL.
import './lib/quiet-warnings.mjs';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DB_IMAGE, docker, dockerExec, imageExists, waitFor } from './lib/docker.mjs';

const LABEL = 'drbot.fixture=bench-pitr';
const CONTAINER = 'drbot-bench-pitr';
const args = Object.fromEntries(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith('--') ? [[a.slice(2), all[i + 1]]] : [])),
);
/** Write-heavy load: `batches` autocommit INSERTs of `rows` rows (~200 bytes each) per round. */
const BATCHES = Number(args.batches ?? 200);
const ROWS = Number(args.rows ?? 1000);
const ROUNDS = Number(args.rounds ?? 3);
/** The compiled drbot to measure (`npm run build` output). */
const DIST = resolve(args.dist ?? 'dist');
const PITR = args.pitr ?? '2s';
const ENGINE = args.engine ?? 'mariadb';
if (!['mariadb', 'postgres'].includes(ENGINE)) throw new Error(`--engine is mariadb or postgres, not ${ENGINE}`);
const PG = ENGINE === 'postgres';

const password = `bench-${randomBytes(12).toString('hex')}`;
const env = PG ? { PGPASSWORD: password } : { MYSQL_PWD: password };
const sql = (text) =>
  PG
    ? dockerExec(CONTAINER, ['psql', '-U', 'postgres', '-d', 'bench', '-At', '-v', 'ON_ERROR_STOP=1', '-c', text], { env })
    : dockerExec(CONTAINER, ['mariadb', '-uroot', '-N', '-e', text], { env });
const TABLE = PG ? 't' : 'bench.t';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function startServer() {
  await docker(['rm', '-f', '-v', CONTAINER]).catch(() => undefined);
  if (PG) {
    // PostgreSQL's defaults (wal_level replica, WAL senders and slots) are what WAL streaming needs.
    await docker(['run', '-d', '--name', CONTAINER, '--label', LABEL, '-e', 'DB_ENGINE=postgres', '-e', 'POSTGRES_PASSWORD', DB_IMAGE], {
      env: { POSTGRES_PASSWORD: password },
    });
    const admin = (text) =>
      dockerExec(CONTAINER, ['psql', '-U', 'postgres', '-d', 'postgres', '-At', '-c', text], { env });
    await waitFor('PostgreSQL', async () => (await admin('SELECT 1').catch(() => '')).trim() === '1');
    await admin('CREATE DATABASE bench');
    await sql('CREATE TABLE t (id bigserial PRIMARY KEY, n int, payload varchar(255))');
    return;
  }
  await docker(
    ['create', '--name', CONTAINER, '--label', LABEL, '-e', 'DB_ENGINE=mariadb', '-e', 'MYSQL_ROOT_PASSWORD', DB_IMAGE],
    { env: { MYSQL_ROOT_PASSWORD: password } },
  );
  const cnf = join(mkdtempSync(join(tmpdir(), 'drbot-bench-pitr-')), 'binlog.cnf');
  writeFileSync(
    cnf,
    '[mariadbd]\nlog_bin = mysql-bin\nbinlog_format = ROW\nserver_id = 1\ninnodb_buffer_pool_size = 256M\ninnodb_flush_log_at_trx_commit = 1\nsync_binlog = 1\n',
  );
  await docker(['cp', cnf, `${CONTAINER}:/etc/mysql/mariadb.conf.d/90-binlog.cnf`]);
  await docker(['start', CONTAINER]);
  await waitFor('MariaDB with binary logging', async () => (await sql('SELECT @@log_bin').catch(() => '')).trim() === '1');
  await sql('CREATE DATABASE bench; CREATE TABLE bench.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT, payload VARCHAR(255))');
}

/** One round of the write load; returns its wall time in ms. */
async function writeLoad() {
  const script = Array.from({ length: BATCHES }, () =>
    PG
      ? `INSERT INTO t (n, payload) SELECT g, md5(random()::text) || md5(g::text) || md5(random()::text) || md5(g::text) || md5(random()::text) || md5(g::text) FROM generate_series(1, ${ROWS}) g;`
      : `INSERT INTO bench.t (n, payload) SELECT seq, CONCAT(MD5(RAND()), MD5(seq), MD5(RAND()), MD5(seq), MD5(RAND()), MD5(seq)) FROM bench.seq_1_to_${ROWS};`,
  ).join('\n');
  const t0 = performance.now();
  await dockerExec(
    CONTAINER,
    PG ? ['psql', '-U', 'postgres', '-d', 'bench', '-q', '-v', 'ON_ERROR_STOP=1'] : ['mariadb', '-uroot', 'bench'],
    { env, input: script },
  );
  return performance.now() - t0;
}

async function main() {
  for (const image of [DB_IMAGE])
    if (!(await imageExists(image))) throw new Error(`needs ${image}; build it with scripts/test-env/images.sh`);
  const { buildConfig } = await import(pathToFileURL(join(DIST, 'src', 'config.js')).href);
  const { buildApp } = await import(pathToFileURL(join(DIST, 'src', 'app.js')).href);
  const { createLogger } = await import(pathToFileURL(join(DIST, 'src', 'log.js')).href);
  const { commandLineGate } = await import(pathToFileURL(join(DIST, 'src', 'engine', 'runs', 'approval.js')).href);

  await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'drbot-bench-pitr-state-'));
  process.env[PG ? 'POSTGRES_PASSWORD' : 'MYSQL_ROOT_PASSWORD'] = password;
  const config = buildConfig(
    {
      state: './state.sqlite',
      storage: { local: { dir: './backups' } },
      tiers: { critical: { rpo: '15m', rto: '1h', schedule: '*/10 * * * *', retention: '7days', pitr: PITR } },
      databases: [
        PG
          ? { name: 'bench-db', container: CONTAINER, engine: 'postgres', tier: 'critical', user: 'postgres', passwordEnv: 'POSTGRES_PASSWORD' }
          : { name: 'bench-db', container: CONTAINER, engine: 'mariadb', tier: 'critical', user: 'root', passwordEnv: 'MYSQL_ROOT_PASSWORD' },
      ],
    },
    join(dir, 'drbot.yaml'),
  );
  const app = buildApp(config, createLogger({ level: 'warn' }));
  const engine = app.engine;
  const [db] = await engine.pitrDatabases();
  const backup = await engine.backup({ target: 'bench-db', requester: 'bench' });
  if (backup.status !== 'succeeded') throw new Error(`base backup failed: ${backup.failures.join('; ')}`);
  await engine.archiveLogs(db);

  const plain = [];
  const archived = [];
  const passes = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, the order alternating: one round without archiving, one with passes every pitr/2.
    for (const withArchiver of round % 2 ? [true, false] : [false, true]) {
      if (!withArchiver) {
        plain.push(await writeLoad());
        continue;
      }
      let running = true;
      const everyMs = Math.max(1000, config.tierMap.get('critical').pitrMs / 2);
      const loop = (async () => {
        while (running) {
          const t0 = performance.now();
          const pass = await engine.archiveLogs(db);
          if (pass.error) throw new Error(pass.error);
          passes.push({ ms: performance.now() - t0, logs: pass.archived.length, bytes: pass.archived.reduce((a, l) => a + l.rawSize, 0) });
          await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - t0))));
        }
      })();
      archived.push(await writeLoad());
      running = false;
      await loop;
    }
  }
  await engine.archiveLogs(db);
  const rows = Number((await sql(`SELECT COUNT(*) FROM ${TABLE}`)).trim());
  const logs = engine.archivedLogs('bench-db');
  const rawBytes = logs.reduce((a, l) => a + l.rawSize, 0);
  const storedBytes = logs.reduce((a, l) => a + l.size, 0);

  // Replay: restore to the last second archived, from the dump taken before any load.
  const to = new Date(Math.max(...logs.map((l) => l.lastAt.getTime())) - (PG ? 0 : 1000));
  const t0 = performance.now();
  const restore = await engine.restore({
    scope: 'asset:bench-db',
    from: undefined,
    to,
    requester: 'bench',
    gate: commandLineGate(true, 'bench', () => new Date()),
  });
  const restoreMs = performance.now() - t0;
  if (restore.status !== 'succeeded') throw new Error(`restore failed: ${restore.failures.join('; ')}`);
  const replayEvent = engine
    .run(restore.run.id)
    .events.find((e) => (PG ? /recovered base backup .* in [\d.]+s$/ : /replayed \d+ binary log/).test(e.message));
  const replaySecs = Number(/ in ([\d.]+)s(;|$)/.exec(replayEvent?.message ?? '')?.[1] ?? Number.NaN);
  const restoredRows = Number((await sql(`SELECT COUNT(*) FROM ${TABLE}`)).trim());

  const result = {
    at: new Date().toISOString(),
    host: { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), node: process.version },
    engine: ENGINE,
    load: { rounds: ROUNDS, batches: BATCHES, rowsPerBatch: ROWS, pitr: PITR },
    writeMs: { plain, archived, medianPlain: median(plain), medianArchived: median(archived) },
    overhead: median(archived) / median(plain) - 1,
    passes: {
      count: passes.length,
      medianMs: median(passes.map((p) => p.ms)),
      maxMs: Math.max(...passes.map((p) => p.ms)),
    },
    logs: { count: logs.length, rawBytes, storedBytes },
    replay: {
      to: to.toISOString(),
      rows: restoredRows,
      expectedRows: rows,
      replaySecs,
      restoreSecs: restoreMs / 1000,
      mibPerSec: rawBytes / 1048576 / replaySecs,
      rowsPerSec: restoredRows / replaySecs,
    },
  };
  const md = [
    `# Point-in-time recovery bench (${result.at})`,
    '',
    PG
      ? `Host: ${result.host.cpus} × ${result.host.model}, ${result.host.kernel}, Node ${result.host.node}. PostgreSQL with its default settings (wal_level replica, synchronous_commit on).`
      : `Host: ${result.host.cpus} × ${result.host.model}, ${result.host.kernel}, Node ${result.host.node}. MariaDB with binary logging (ROW, sync_binlog=1).`,
    PG
      ? `Load: ${ROUNDS} rounds each way, interleaved; a round is ${BATCHES} autocommit INSERTs of ${ROWS} rows (~200 bytes each). Archiving: a pass every ${PITR} / 2 (pg_switch_wal, pg_receivewal through the slot to the switch, ship complete segments gzipped to the local target, each confirmed). Replay: the base backup taken after the first dump and every segment, recovered in a scratch server, then loaded into the live one as a dump.`
      : `Load: ${ROUNDS} rounds each way, interleaved; a round is ${BATCHES} autocommit INSERTs of ${ROWS} rows (~200 bytes each). Archiving: a pass every ${PITR} / 2 (FLUSH BINARY LOGS, ship closed logs gzipped to the local target, each confirmed).`,
    '',
    '| measure | value |',
    '| --- | ---: |',
    `| write round, no archiving (median) | ${(result.writeMs.medianPlain / 1000).toFixed(2)} s |`,
    `| write round, archiving (median) | ${(result.writeMs.medianArchived / 1000).toFixed(2)} s |`,
    `| archiving overhead on the writes | ${(result.overhead * 100).toFixed(1)} % |`,
    `| archive passes: count, median, max | ${result.passes.count}, ${result.passes.medianMs.toFixed(0)} ms, ${result.passes.maxMs.toFixed(0)} ms |`,
    `| ${PG ? 'WAL segments' : 'logs'} archived: count, raw, stored | ${logs.length}, ${(rawBytes / 1048576).toFixed(1)} MiB, ${(storedBytes / 1048576).toFixed(1)} MiB |`,
    PG
      ? `| recovery of the base and every segment in scratch (restore --to) | ${replaySecs.toFixed(1)} s: ${result.replay.mibPerSec.toFixed(1)} MiB/s of WAL (segments are 16 MiB, written or not), ${Math.round(result.replay.rowsPerSec)} rows/s |`
      : `| replay of every log (restore --to) | ${replaySecs.toFixed(1)} s: ${result.replay.mibPerSec.toFixed(1)} MiB/s of binary log, ${Math.round(result.replay.rowsPerSec)} rows/s |`,
    `| whole restore (assess … postmortem) | ${result.replay.restoreSecs.toFixed(1)} s |`,
    `| rows after the restore / written | ${restoredRows} / ${rows} |`,
    '',
  ].join('\n');
  const out = resolve('bench', 'results');
  mkdirSync(out, { recursive: true });
  const stamp = result.at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const name = PG ? `pitr-postgres-${stamp}` : `pitr-${stamp}`;
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(out, `${name}.md`), md);
  process.stdout.write(md);
  app.close();
  rmSync(dir, { recursive: true, force: true });
}

main()
  .catch((err) => {
    process.stderr.write(`bench:pitr failed: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => docker(['rm', '-f', '-v', CONTAINER]).catch(() => undefined));
