import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walSequence } from '../../src/domain/pitr.js';
import { dispatch } from '../../src/front/dispatch.js';
import { createLogger } from '../../src/log.js';
import type { Notice } from '../../src/ports/notifier.js';
import { RpoMonitor } from '../../src/scheduler/rpo-monitor.js';
import { docker, execIn, removeByLabel, waitFor } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { DB_IMAGE } from '../fixtures/images.js';
import { iso, nextSecond, onFreshHost, pitrHelpers, withAgeHarness } from '../fixtures/pitr.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';

/**
 * Point-in-time recovery of PostgreSQL on the real fixture: a server with its default settings
 * (wal_level replica, WAL senders and slots available), drbot streaming its WAL through a
 * replication slot with pg_receivewal and taking physical base backups, and restores to a
 * moment between two changes, recovered in scratch and loaded into the live server.
 */
const LABEL = 'drbot.fixture=pitr-postgres';
const CONTAINER = 'pitr-postgres';
const ASSET = 'ledger-db';
const password = `pg-${randomBytes(12).toString('hex')}`;
const log = createLogger({ level: 'warn' });
let h: EngineHarness;
let s3: S3Server;

const psql = (text: string, db = 'ledger') =>
  execIn(CONTAINER, ['psql', '-U', 'postgres', '-d', db, '-At', '-v', 'ON_ERROR_STOP=1', '-c', text], {
    env: { PGPASSWORD: password },
  }).trim();
const rows = () => psql('SELECT count(*), coalesce(max(id), 0) FROM entries').replace('|', '\t');
const { sync, run, timeline, s3Target, db } = pitrHelpers(() => h, ASSET, log);

beforeAll(async () => {
  removeByLabel(LABEL);
  docker(
    [
      'run',
      '-d',
      '--name',
      CONTAINER,
      '--label',
      LABEL,
      '-e',
      'DB_ENGINE=postgres',
      '-e',
      'POSTGRES_PASSWORD',
      DB_IMAGE,
    ],
    { env: { POSTGRES_PASSWORD: password } },
  );
  await waitFor('PostgreSQL', () => {
    psql('SELECT 1', 'postgres');
    return true;
  });
  // No background commits: a test below restores to a moment after which nothing was written.
  psql('ALTER SYSTEM SET autovacuum = off', 'postgres');
  psql('SELECT pg_reload_conf()', 'postgres');
  psql('CREATE DATABASE ledger', 'postgres');
  psql(
    "CREATE TABLE entries (id int PRIMARY KEY, note text); INSERT INTO entries SELECT g, 'base ' || g FROM generate_series(1, 100) g",
  );
  s3 = await startS3('drbot-pitr-pg');
  h = engineHarness({
    s3,
    config: {
      databases: [
        {
          name: ASSET,
          container: CONTAINER,
          engine: 'postgres',
          tier: 'critical',
          user: 'postgres',
          passwordEnv: 'POSTGRES_PASSWORD',
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

describe('point-in-time recovery of PostgreSQL (WAL and base backups)', () => {
  it('restores db-only --to a second between two changes, and to just before a DROP TABLE', async () => {
    sync();
    const backup = await h.app.engine.backup({ target: ASSET, requester: 'test' });
    expect(backup.status, backup.failures.join()).toBe('succeeded');
    // The backup's archive pass took a physical base backup and streamed the WAL after it.
    const state0 = h.app.engine.pitrState(ASSET);
    expect(state0.logs).toBeGreaterThan(0);
    expect(state0.windows.length, JSON.stringify(state0)).toBe(1);

    await nextSecond();
    psql("INSERT INTO entries SELECT g, 't1 ' || g FROM generate_series(101, 110) g");
    const between = iso(await nextSecond());
    await nextSecond();
    psql("INSERT INTO entries SELECT g, 't2 ' || g FROM generate_series(111, 130) g");
    const beforeDrop = iso(await nextSecond());
    await nextSecond();
    psql('DROP TABLE entries');

    const toT1 = await run(['restore', 'db-only', '--to', between, '--yes']);
    expect(toT1.exitCode, `${toT1.text}\n${timeline()}`).toBe(0);
    expect(rows()).toBe('110\t110');

    const toT2 = await run(['restore', 'db-only', '--to', beforeDrop, '--yes']);
    expect(toT2.exitCode, `${toT2.text}\n${timeline()}`).toBe(0);
    expect(rows()).toBe('130\t130');

    const outcome = toT2.data as {
      plan: {
        assets: Array<{
          lossWindowMs: number;
          pointInTime?: { to: string; base?: string; lastChangeAt?: string };
        }>;
      };
      postmortem: string;
    };
    const planned = outcome.plan.assets[0];
    expect(planned?.pointInTime?.to).toBe(beforeDrop);
    expect(planned?.pointInTime?.base).toMatch(
      new RegExp(`^pitr/${ASSET}/base/\\d{8}T\\d{6}Z-[0-9A-F]{24}\\.tar\\.gz$`),
    );
    // The last change replayed is the T2 insert, committed within the second before the target.
    const last = new Date(planned?.pointInTime?.lastChangeAt ?? 0).getTime();
    expect(last).toBeLessThan(new Date(beforeDrop).getTime());
    expect(last).toBeGreaterThan(new Date(beforeDrop).getTime() - 3000);
    expect(planned?.lossWindowMs).toBeGreaterThan(0);
    expect(planned?.lossWindowMs).toBeLessThan(60_000);
    expect(outcome.postmortem).toContain('Point in time');
    expect(outcome.postmortem).toContain('archived WAL segment(s)');
    expect(toT2.text).toContain('base backup');

    // A target after the last change: the WAL holds no commit after it, so PostgreSQL would stop
    // short of it; the recovery runs to the end of the segments planned, which is the same state.
    psql("INSERT INTO entries VALUES (131, 'last')");
    await nextSecond();
    const quiet = iso(await nextSecond());
    await nextSecond();
    const toQuiet = await run(['restore', ASSET, '--to', quiet, '--yes']);
    expect(toQuiet.exitCode, `${toQuiet.text}\n${timeline()}`).toBe(0);
    expect(rows()).toBe('131\t131');
    expect(timeline()).toContain(`the archived WAL holds no change after ${quiet}`);

    // The live server kept its WAL stream: archiving goes on after the restores.
    const pass = await h.app.engine.archiveLogs(await db());
    expect(pass.error ?? pass.problem).toBeUndefined();
    expect(pass.archived.length).toBeGreaterThan(0);

    const status = await run(['status']);
    expect(status.text).toMatch(
      new RegExp(`${ASSET}: restorable to any second from \\S+ to \\S+, newest log \\S+ old \\(pitr 1m\\)`),
    );
    expect(status.text).toMatch(
      /replication slot drbot_ledger_db_[0-9a-f]+ keeps \d+\.\d MiB of WAL on the server/,
    );
    const keys = (await s3Target().list('pitr/')) ?? [];
    expect(keys.some((k) => k.startsWith(`pitr/${ASSET}/base/`))).toBe(true);
    expect(keys.some((k) => /\/\d{8}T\d{6}Z-[0-9A-F]{24}_\d{8}T\d{6}Z\.gz$/.test(k))).toBe(true);

    // A new host with an empty state: segments and base backups come back from the targets.
    await onFreshHost(h, s3, (fresh) => {
      expect(fresh.app.engine.archivedLogs(ASSET).map((l) => [l.key, l.sha256])).toEqual(
        h.app.engine.archivedLogs(ASSET).map((l) => [l.key, l.sha256]),
      );
      expect(fresh.app.engine.pitrState(ASSET).windows.length).toBeGreaterThan(0);
    });
    expect(JSON.stringify(h.app.engine.runs(20))).not.toContain(password);
    expect(h.logLines.join('')).not.toContain(password);
  });

  it('refuses a --to outside the recovery window in assess, naming the window, with nothing touched', async () => {
    psql('CREATE TABLE IF NOT EXISTS marker (id int); INSERT INTO marker VALUES (1)');
    const before = rows();
    const past = await run(['restore', ASSET, '--to', '2001-01-01T00:00:00Z', '--yes']);
    expect(past.exitCode, past.text).toBe(1);
    expect(past.text).toMatch(
      /is outside the recovery window of ledger-db: restorable to any second from \S+ to \S+/,
    );
    expect(rows()).toBe(before);
    expect(psql('SELECT count(*) FROM marker')).toBe('1');
  });

  it('keeps shipping WAL when a base backup fails, and reports the failure', async () => {
    const basesBefore = ((await s3Target().list(`pitr/${ASSET}/base/`)) ?? []).sort();
    // pg_basebackup missing from the container: the base backup due after a new dump fails.
    execIn(CONTAINER, ['mv', '/usr/bin/pg_basebackup', '/usr/bin/pg_basebackup.away']);
    try {
      sync();
      const backup = await h.app.engine.backup({ target: ASSET, requester: 'test' });
      expect(backup.status, backup.failures.join()).toBe('succeeded');
      psql("INSERT INTO entries VALUES (500, 'while the base fails')");
      const pass = await h.app.engine.archiveLogs(await db());
      expect(pass.error).toMatch(/^the base backup failed: .*pg_basebackup/);
      expect(pass.archived.length).toBeGreaterThan(0);
      // Nothing half-written stays on the targets, and status names the failure.
      expect(((await s3Target().list(`pitr/${ASSET}/base/`)) ?? []).sort()).toEqual(basesBefore);
      const status = await run(['status']);
      expect(status.text).toMatch(/last archive pass failed at \S+: the base backup failed/);
    } finally {
      execIn(CONTAINER, ['mv', '/usr/bin/pg_basebackup.away', '/usr/bin/pg_basebackup']);
    }
    const next = await h.app.engine.archiveLogs(await db());
    expect(next.error).toBeUndefined();
    expect(((await s3Target().list(`pitr/${ASSET}/base/`)) ?? []).length).toBe(basesBefore.length + 1);
  });

  it('verify --deep recovers the newest base backup and its WAL in scratch, and names a segment missing in the middle', async () => {
    const alerts: Notice[] = [];
    const monitor = new RpoMonitor(h.app.engine, {
      report: async () => undefined,
      alert: async (n) => {
        alerts.push(n);
      },
    });
    psql('CREATE TABLE IF NOT EXISTS marker (id int)');
    sync();
    const base = await h.app.engine.backup({ target: ASSET, requester: 'test' });
    expect(base.status, base.failures.join()).toBe('succeeded');
    for (let i = 0; i < 3; i++) {
      psql(`INSERT INTO marker VALUES (${100 + i})`);
      await h.app.engine.archiveLogs(await db());
    }
    sync();
    const deep = await h.app.engine.verify({ set: base.setId, deep: true, requester: 'test' });
    expect(deep.status, deep.failures.join()).toBe('succeeded');
    expect(deep.deep.map((d) => d.detail).join()).toMatch(
      /recovered base backup \S+ and \d+ archived WAL segment/,
    );
    // A verified base: the RPO monitor measures the database by its WAL, and it is flowing.
    expect(h.app.engine.recoverablePoint(ASSET)).toBeDefined();
    await monitor.check(new Date());
    expect(alerts.filter((a) => a.title.includes('RPO breach'))).toEqual([]);

    // The newest base backup (taken after the dump above) is the one deep verify recovers.
    const bases = ((await s3Target().list(`pitr/${ASSET}/base/`)) ?? []).sort();
    const baseSeq = walSequence(/-([0-9A-F]{24})\.tar\.gz$/.exec(bases.at(-1) ?? '')?.[1] ?? '') ?? 0;
    const logs = h.app.engine.archivedLogs(ASSET).filter((l) => l.seq > baseSeq);
    const middle = logs[Math.floor(logs.length / 2)];
    if (!middle || logs.length < 3) throw new Error(`too few segments after the base: ${logs.length}`);
    rmSync(join(h.backupDir, middle.key));
    await s3Target().delete(middle.key);

    sync();
    const broken = await h.app.engine.verify({ set: base.setId, deep: true, requester: 'test' });
    expect(broken.status).toBe('failed');
    expect(broken.failures.join()).toContain('gap in the WAL chain after base backup');
    expect(broken.failures.join()).toContain(middle.name);
    await monitor.check(new Date(Date.now() + 2 * 60_000));
    await monitor.check(new Date(Date.now() + 3 * 60_000));
    const gapAlerts = alerts.filter((a) => a.title.includes('RPO breach'));
    expect(gapAlerts).toHaveLength(1);
    expect(gapAlerts[0]?.lines.join()).toContain(middle.name);
  });

  it('with encryption.recipients stores base backups and WAL as age files holding no row, and restores --to with the identity', async () => {
    const marker = `vault-secret-${randomBytes(6).toString('hex')}`;
    await withAgeHarness('drbot-pitr-pg-enc', h.app.engine.config.databases, async (he, keyFile) => {
      psql('CREATE TABLE IF NOT EXISTS vault (id int PRIMARY KEY, body text)');
      he.clock.set(new Date());
      const base = await he.app.engine.backup({ target: ASSET, requester: 'test' });
      expect(base.status, base.failures.join()).toBe('succeeded');
      await nextSecond();
      psql(`INSERT INTO vault VALUES (1, '${marker}'), (2, '${marker}')`);
      const target = iso(await nextSecond());
      await nextSecond();
      psql('DROP TABLE vault');

      he.clock.set(new Date());
      const res = await dispatch(['restore', ASSET, '--to', target, '--yes'], {
        engine: he.app.engine,
        requester: 'U0TEST',
        log,
      });
      expect(res.exitCode, res.text).toBe(0);
      expect(psql('SELECT count(*) FROM vault')).toBe('2');

      // Every segment and base backup is an age file on the local target, holding no row in the clear.
      const keys = readdirSync(join(he.backupDir, 'pitr', ASSET), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name));
      expect(keys.some((k) => k.includes(`${ASSET}/base/`) && k.endsWith('.tar.gz.age'))).toBe(true);
      // Decrypted by hand (Debian's age) and gunzipped, the WAL holds the rows.
      let found = 0;
      for (const file of keys) {
        expect(file).toMatch(/\.gz\.age$/);
        const stored = readFileSync(file);
        expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
        expect(stored.includes(Buffer.from(marker))).toBe(false);
        const plain = gunzipSync(
          execFileSync('age', ['-d', '-i', keyFile], { input: stored, maxBuffer: 1 << 30 }),
        );
        if (plain.includes(Buffer.from(marker))) found++;
      }
      expect(found).toBeGreaterThan(0);
    });
  });
});
