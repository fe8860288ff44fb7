import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Target } from '../../src/adapters/s3/s3-target.js';
import type { S3TargetConfig } from '../../src/config.js';
import { dispatch } from '../../src/front/dispatch.js';
import { createLogger } from '../../src/log.js';
import type { Notice } from '../../src/ports/notifier.js';
import { PitrLoop } from '../../src/scheduler/pitr-loop.js';
import { RpoMonitor } from '../../src/scheduler/rpo-monitor.js';
import { docker, execIn, removeByLabel, waitFor } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { DB_IMAGE } from '../fixtures/images.js';
import { iso, nextSecond, onFreshHost, pitrHelpers, withAgeHarness } from '../fixtures/pitr.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';

/**
 * Point-in-time recovery on the real fixture: a MariaDB server with binary logging on (ROW
 * format, set in a config file the way a team would), drbot archiving its logs to the local
 * directory and S3, and restores to a second between two changes.
 */
const LABEL = 'drbot.fixture=pitr';
const CONTAINER = 'pitr-mariadb';
const ASSET = 'shop-db';
const password = `my-${randomBytes(12).toString('hex')}`;
const env = { MYSQL_PWD: password };
const log = createLogger({ level: 'warn' });
let h: EngineHarness;
let s3: S3Server;

const sql = (text: string) => execIn(CONTAINER, ['mariadb', '-uroot', '-N', '-e', text], { env }).trim();
const rows = () => sql('SELECT COUNT(*), IFNULL(MAX(id), 0) FROM shop.events');
const { sync, run, timeline, s3Target, db } = pitrHelpers(() => h, ASSET, log);

beforeAll(async () => {
  removeByLabel(LABEL);
  docker(
    [
      'create',
      '--name',
      CONTAINER,
      '--label',
      LABEL,
      '-e',
      'DB_ENGINE=mariadb',
      '-e',
      'MYSQL_ROOT_PASSWORD',
      DB_IMAGE,
    ],
    { env: { MYSQL_ROOT_PASSWORD: password } },
  );
  // Binary logging as a team turns it on: a config file the server reads at start.
  const cnf = join(tmpdir(), `drbot-pitr-${randomBytes(4).toString('hex')}.cnf`);
  writeFileSync(cnf, '[mariadbd]\nlog_bin = mysql-bin\nbinlog_format = ROW\nserver_id = 1\n');
  docker(['cp', cnf, `${CONTAINER}:/etc/mysql/mariadb.conf.d/90-binlog.cnf`]);
  rmSync(cnf);
  docker(['start', CONTAINER]);
  await waitFor('MariaDB with binary logging', () => {
    execIn(CONTAINER, ['mariadb-admin', '-uroot', 'ping'], { env });
    return sql('SELECT @@log_bin') === '1';
  });
  sql(
    'CREATE DATABASE shop; CREATE TABLE shop.events (id INT PRIMARY KEY, note VARCHAR(64)); INSERT INTO shop.events SELECT seq, CONCAT("base ", seq) FROM shop.seq_1_to_100',
  );
  s3 = await startS3('drbot-pitr');
  h = engineHarness({
    s3,
    config: {
      databases: [
        {
          name: ASSET,
          container: CONTAINER,
          engine: 'mariadb',
          tier: 'critical',
          user: 'root',
          passwordEnv: 'MYSQL_ROOT_PASSWORD',
        },
      ],
    },
  });
});

afterAll(async () => {
  h?.app.close();
  await s3?.stop();
  removeByLabel(LABEL);
});

describe('point-in-time recovery of MariaDB (binary logs)', () => {
  it('restores db-only --to a second between two changes, and to just before a DROP TABLE', async () => {
    // Log events are stamped in whole seconds, so a dump extends a chain of logs only when the
    // chain began in an earlier second: the server (and its first log) started moments ago.
    await nextSecond();
    sync();
    const backup = await h.app.engine.backup({ target: ASSET, requester: 'test' });
    expect(backup.status, backup.failures.join()).toBe('succeeded');

    await nextSecond();
    sql('INSERT INTO shop.events SELECT seq, CONCAT("t1 ", seq) FROM shop.seq_101_to_110');
    const between = iso(await nextSecond());
    await nextSecond();
    sql('INSERT INTO shop.events SELECT seq, CONCAT("t2 ", seq) FROM shop.seq_111_to_130');
    const beforeDrop = iso(await nextSecond());
    await nextSecond();
    sql('DROP TABLE shop.events');

    const toT1 = await run(['restore', 'db-only', '--to', between, '--yes']);
    expect(toT1.exitCode, `${toT1.text}\n${timeline()}`).toBe(0);
    expect(rows()).toBe('110\t110');

    const toT2 = await run(['restore', 'db-only', '--to', beforeDrop, '--yes']);
    expect(toT2.exitCode, toT2.text).toBe(0);
    expect(rows()).toBe('130\t130');

    // pitr: 1m (the critical tier's default): the loss is the gap between the last change and the target.
    const outcome = toT2.data as {
      plan: { assets: Array<{ lossWindowMs: number; pointInTime?: { to: string; lastChangeAt?: string } }> };
      postmortem: string;
    };
    const planned = outcome.plan.assets[0];
    expect(planned?.pointInTime?.to).toBe(beforeDrop);
    expect(planned?.pointInTime?.lastChangeAt).toBeDefined();
    expect(planned?.lossWindowMs).toBeGreaterThan(0);
    expect(planned?.lossWindowMs).toBeLessThan(60_000);
    expect(outcome.postmortem).toContain('Point in time');
    expect(outcome.postmortem).toContain(beforeDrop.replace(/\.\d+Z$/, ''));
    expect(toT2.text).toContain('--to');

    const status = await run(['status']);
    expect(status.text).toMatch(
      new RegExp(`${ASSET}: restorable to any second from \\S+ to \\S+, newest log \\S+ old \\(pitr 1m\\)`),
    );
    // Archived logs sit beside the set directories, on every target.
    const keys = await s3Target().list('pitr/');
    expect(keys?.some((k) => k.startsWith(`pitr/${ASSET}/`) && k.endsWith('.gz'))).toBe(true);
    // A new host with an empty state: the logs come back into the catalog from the targets.
    await onFreshHost(h, s3, (fresh) => {
      expect(fresh.app.engine.archivedLogs(ASSET).map((l) => [l.key, l.sha256])).toEqual(
        h.app.engine.archivedLogs(ASSET).map((l) => [l.key, l.sha256]),
      );
    });
    expect(JSON.stringify(h.app.engine.runs(20))).not.toContain(password);
    expect(h.logLines.join('')).not.toContain(password);
  });

  it('refuses a --to outside the recovery window in assess, naming the window, with nothing touched', async () => {
    sql('CREATE TABLE IF NOT EXISTS shop.marker (id INT); INSERT INTO shop.marker VALUES (1)');
    const before = rows();

    const past = await run(['restore', ASSET, '--to', '2001-01-01T00:00:00Z', '--yes']);
    const future = await run([
      'restore',
      'db-only',
      '--to',
      new Date(Date.now() + 3_600_000).toISOString(),
      '--yes',
    ]);

    for (const refused of [past, future]) {
      // The run ends in assess (exit 1, like any restore with no usable plan).
      expect(refused.exitCode, refused.text).toBe(1);
      expect(refused.text).toContain(': failed');
      expect(refused.text).toMatch(
        /is outside the recovery window of shop-db: restorable to any second from \S+ to \S+/,
      );
    }
    expect(rows()).toBe(before);
    expect(sql('SELECT COUNT(*) FROM shop.marker')).toBe('1');
    for (const r of h.app.engine.runs(2)) {
      const stages = new Set(h.app.engine.run(r.id).events.map((e) => e.stage));
      expect(r.kind).toBe('restore');
      expect([...stages]).toEqual(['assess']);
    }
  });

  it('alerts once when the archiver stops, and verify --deep names a log missing in the middle of the chain', async () => {
    const alerts: Notice[] = [];
    const monitor = new RpoMonitor(h.app.engine, {
      report: async () => undefined,
      alert: async (n) => {
        alerts.push(n);
      },
    });
    sync();
    const base = await h.app.engine.backup({ target: ASSET, requester: 'test' });
    expect(base.status, base.failures.join()).toBe('succeeded');
    const loop = new PitrLoop(h.app.engine, log);
    const logsAfter = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await nextSecond();
        sql(`INSERT INTO shop.marker VALUES (${100 + i})`);
        await h.app.engine.archiveLogs(await db());
      }
    };
    await loop.turn(); // the archiver's first pass
    await logsAfter(1);
    sync();
    const deep = await h.app.engine.verify({ set: base.setId, deep: true, requester: 'test' });
    expect(deep.status, deep.failures.join()).toBe('succeeded');
    expect(deep.deep.map((d) => d.detail).join()).toMatch(/replayed \d+ archived binary log/);
    await monitor.check(new Date());
    expect(alerts.filter((a) => a.title.includes('RPO breach'))).toEqual([]);

    // The archiver is stopped: two minutes on, the newest archived log is too old (pitr 1m).
    loop.stop();
    const later = new Date(Date.now() + 2 * 60_000);
    await monitor.check(later);
    await monitor.check(new Date(later.getTime() + 60_000));
    const breaches = alerts.filter((a) => a.title.includes('RPO breach'));
    expect(breaches).toHaveLength(1);
    expect(breaches[0]?.lines.join()).toContain('stopped flowing');
    await logsAfter(1); // archiving again
    await monitor.check(new Date());
    expect(alerts.filter((a) => a.title.includes('Recovered'))).toHaveLength(1);

    // A log in the middle of the chain disappears from every target.
    await logsAfter(3);
    const logs = h.app.engine.archivedLogs(ASSET).filter((l) => l.lastAt >= (base.run.startedAt as Date));
    const middle = logs[Math.floor(logs.length / 2)];
    if (!middle) throw new Error('no archived logs');
    rmSync(join(h.backupDir, middle.key));
    await s3Target().delete(middle.key);

    sync();
    const broken = await h.app.engine.verify({ set: base.setId, deep: true, requester: 'test' });
    expect(broken.status).toBe('failed');
    expect(broken.failures.join()).toContain(`gap in the binary log chain after ${base.setId}`);
    expect(broken.failures.join()).toContain(middle.name);
    await monitor.check(new Date(Date.now() + 2 * 60_000));
    await monitor.check(new Date(Date.now() + 3 * 60_000));
    const gapAlerts = alerts.filter((a) => a.title.includes('RPO breach'));
    expect(gapAlerts).toHaveLength(2);
    expect(gapAlerts[1]?.lines.join()).toContain(middle.name);
  });

  it('with encryption.recipients ships logs as age files holding no row, and restores --to with the identity', async () => {
    const marker = `vault-secret-${randomBytes(6).toString('hex')}`;
    await withAgeHarness('drbot-pitr-enc', h.app.engine.config.databases, async (he, keyFile) => {
      sql(
        'CREATE DATABASE IF NOT EXISTS vault; CREATE TABLE vault.notes (id INT PRIMARY KEY, body VARCHAR(64))',
      );
      he.clock.set(new Date());
      const base = await he.app.engine.backup({ target: ASSET, requester: 'test' });
      expect(base.status, base.failures.join()).toBe('succeeded');
      await nextSecond();
      sql(`INSERT INTO vault.notes VALUES (1, '${marker}'), (2, '${marker}')`);
      const target = iso(await nextSecond());
      await nextSecond();
      sql('DROP TABLE vault.notes');

      he.clock.set(new Date());
      const res = await dispatch(['restore', 'db-only', '--to', target, '--yes'], {
        engine: he.app.engine,
        requester: 'U0TEST',
        log,
      });
      expect(res.exitCode, res.text).toBe(0);
      expect(sql('SELECT COUNT(*) FROM vault.notes')).toBe('2');

      // Every archived log is an age file on both targets; the row is in one of them once it is
      // decrypted by hand (Debian's age) and gunzipped, and in no stored byte.
      const logs = he.app.engine.archivedLogs(ASSET);
      expect(logs.length).toBeGreaterThan(0);
      const s3 = new S3Target('s3', he.app.engine.config.storage.s3 as S3TargetConfig, log);
      let found = 0;
      for (const l of logs) {
        expect(l.key).toMatch(/\.gz\.age$/);
        const stored = readFileSync(join(he.backupDir, l.key));
        const chunks: Buffer[] = [];
        for await (const c of await s3.read(l.key)) chunks.push(c as Buffer);
        expect(Buffer.concat(chunks).equals(stored)).toBe(true);
        expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
        expect(stored.includes(Buffer.from(marker))).toBe(false);
        const plain = gunzipSync(execFileSync('age', ['-d', '-i', keyFile], { input: stored }));
        if (plain.includes(Buffer.from(marker))) found++;
      }
      expect(found).toBeGreaterThan(0);
    });
  });
});
