// A database's labelled data volume: covered by the dump, archived only with the database stopped, restored from the dump.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, execIn, waitFor } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE, DB_IMAGE } from '../fixtures/images.js';
import { createSeed, FIXTURE_LABEL, teardownSeed } from '../fixtures/seed.js';

/*
 * Beside the shared fixture, two more databases whose data volumes carry policy labels, as teams
 * label them: `orders-db` (MariaDB) on `orders-data` (tier=critical: covered by the dump), and
 * `ledger-db` (PostgreSQL) on `ledger-data` (drbot.archive=stopped: archived with it stopped).
 */
const ORDERS_PASSWORD = `or-${Math.random().toString(36).slice(2)}${Date.now()}`;
const LEDGER_PASSWORD = `le-${Math.random().toString(36).slice(2)}${Date.now()}`;
const LEDGER_ENV = { PGPASSWORD: LEDGER_PASSWORD };

let ws: Workspace;

function startedAt(container: string): string {
  return docker(['inspect', '-f', '{{.State.StartedAt}}', container]).trim();
}

function isRunning(container: string): boolean {
  return docker(['inspect', '-f', '{{.State.Running}}', container]).trim() === 'true';
}

function ledger(sql: string): string {
  return execIn(
    'ledger-db',
    ['psql', '-U', 'postgres', '-d', 'ledger', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql],
    {
      env: LEDGER_ENV,
    },
  ).trim();
}

async function ledgerReady(): Promise<void> {
  await waitFor('ledger-db to accept connections', () => {
    execIn('ledger-db', ['psql', '-U', 'postgres', '-c', 'select 1'], { env: LEDGER_ENV });
    return true;
  });
}

function runDatabases(): void {
  const label = ['--label', FIXTURE_LABEL];
  docker([
    'volume',
    'create',
    ...label,
    '--label',
    'tier=critical',
    '--label',
    'backup=realtime',
    'orders-data',
  ]);
  docker([
    'volume',
    'create',
    ...label,
    '--label',
    'tier=important',
    '--label',
    'drbot.archive=stopped',
    'ledger-data',
  ]);
  docker(
    [
      'run',
      '-d',
      '--name',
      'orders-db',
      ...label,
      ...['--label', 'dr.engine=mariadb', '--label', 'tier=important'],
      ...['-e', 'DB_ENGINE=mariadb', '-e', 'MYSQL_ROOT_PASSWORD', '-v', 'orders-data:/var/lib/mysql'],
      DB_IMAGE,
    ],
    { env: { MYSQL_ROOT_PASSWORD: ORDERS_PASSWORD } },
  );
  docker(
    [
      'run',
      '-d',
      '--name',
      'ledger-db',
      ...label,
      ...['--label', 'dr.engine=postgres', '--label', 'tier=important'],
      ...[
        '-e',
        'DB_ENGINE=postgres',
        '-e',
        'POSTGRES_PASSWORD',
        '-v',
        'ledger-data:/var/lib/postgresql/data',
      ],
      DB_IMAGE,
    ],
    { env: { POSTGRES_PASSWORD: LEDGER_PASSWORD } },
  );
}

/** The newest run's id and timeline, as `drbot run` prints it. */
async function timelineOf(runId: string): Promise<string> {
  const res = await drbot(ws, ['run', runId]);
  return res.stdout;
}

beforeAll(async () => {
  await createSeed();
  runDatabases();
  await waitFor('orders-db to accept connections', () => {
    execIn('orders-db', ['mariadb-admin', '-uroot', 'ping'], { env: { MYSQL_PWD: ORDERS_PASSWORD } });
    return true;
  });
  await ledgerReady();
  execIn('ledger-db', ['psql', '-U', 'postgres', '-c', 'CREATE DATABASE ledger'], { env: LEDGER_ENV });
  ledger(
    'CREATE TABLE entries (id int PRIMARY KEY, amount numeric); INSERT INTO entries SELECT g, g * 1.5 FROM generate_series(1, 400) g',
  );
  ws = workspace({ extra: { restore: { stopTimeout: '2s' } } });
});

afterAll(() => {
  teardownSeed();
});

describe('a database data volume with policy labels', () => {
  it('is shown as covered by the database dump in status and policy, not as a volume to archive', async () => {
    const status = await drbot(ws, ['status']);
    const policy = await drbot(ws, ['policy']);

    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/orders-data\s+volume\s+critical\s+none\s+.*covered/);
    expect(status.stdout).toContain('orders-data → orders-db');
    expect(status.stdout).toContain(
      'a tar of a running InnoDB or PostgreSQL data directory is not consistent',
    );
    expect(status.stdout).toContain('ledger-data (stops ledger-db)');
    expect(policy.stdout).toMatch(/orders-data\s+critical\s+none\s+.*covered by the dump of orders-db/);
  });

  it('is never archived live: `backup all` leaves it to the dump, and a backup of it alone is refused', async () => {
    const all = await drbot(ws, ['backup', 'all', '--json']);
    const alone = await drbot(ws, ['backup', 'orders-data']);

    expect(all.code, all.stdout + all.stderr).toBe(0);
    const files = (JSON.parse(all.stdout).data.artifacts as Array<{ file: string }>).map((a) => a.file);
    expect(files).toContain('orders-db.sql.gz');
    expect(files).not.toContain('orders-data.tar.gz');
    expect(alone.code).toBe(2);
    expect(alone.stdout + alone.stderr).toMatch(
      /volume 'orders-data' is the data directory of database orders-db and is covered by its dump/,
    );
    expect(alone.stdout + alone.stderr).toMatch(/drbot\.archive=stopped/);
  });

  it('with drbot.archive=stopped is archived with the database stopped: a cleanly shut down data directory, downtime on the timeline', async () => {
    const before = startedAt('ledger-db');

    const res = await drbot(ws, ['backup', 'ledger-data', '--json']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(isRunning('ledger-db')).toBe(true);
    expect(startedAt('ledger-db')).not.toBe(before);
    expect(ledger('SELECT count(*) FROM entries')).toBe('400');
    const runId = JSON.parse(res.stdout).data.run.id as string;
    const timeline = await timelineOf(runId);
    expect(timeline).toMatch(/ledger-data: stopped ledger-db for a consistent archive/);
    expect(timeline).toMatch(
      /ledger-data: ledger-db answers again after [\d.]+s of downtime for the archive/,
    );
    // The archive is of a server that shut down cleanly: PostgreSQL starts from it without recovery.
    const setId = JSON.parse(res.stdout).data.setId as string;
    const tar = execFileSync('find', [ws.backupDir, '-path', `*/${setId}/ledger-data.tar.gz`])
      .toString()
      .trim();
    docker(['volume', 'create', '--label', FIXTURE_LABEL, 'ledger-check']);
    docker(['run', '--rm', '-i', '-v', 'ledger-check:/v', BUSYBOX_IMAGE, 'tar', 'xzf', '-', '-C', '/v'], {
      input: readFileSync(tar),
    });
    const control = docker([
      'run',
      '--rm',
      '-v',
      'ledger-check:/d',
      '--entrypoint',
      'sh',
      DB_IMAGE,
      '-c',
      '"$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)/pg_controldata" /d',
    ]);
    expect(control).toMatch(/Database cluster state:\s+shut down\n/);
  });

  it('starts the database again when the upload fails while it is stopped', async () => {
    const before = startedAt('ledger-db');
    // A file where the set's year directory goes: the local target cannot open the artifact.
    const year = new Date().getUTCFullYear();
    const blockers = [year, year + 1].map((y) => join(ws.backupDir, String(y)));
    const moved = blockers.map((b) => `${b}.moved`);
    blockers.forEach((b, i) => {
      try {
        execFileSync('mv', [b, moved[i] as string], { stdio: 'ignore' });
      } catch {
        // nothing there yet
      }
      writeFileSync(b, 'not a directory');
    });

    const res = await drbot(ws, ['backup', 'ledger-data']).finally(() => {
      blockers.forEach((b, i) => {
        rmSync(b, { force: true });
        try {
          execFileSync('mv', [moved[i] as string, b], { stdio: 'ignore' });
        } catch {
          // there was nothing to put back
        }
      });
    });

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/backup ledger-data failed/);
    expect(isRunning('ledger-db')).toBe(true);
    expect(startedAt('ledger-db')).not.toBe(before);
    const runId = /run-\d+/.exec(res.stdout)?.[0] as string;
    const timeline = await timelineOf(runId);
    expect(timeline).toMatch(/ledger-data: stopped ledger-db for a consistent archive/);
    expect(timeline).toMatch(/ledger-db answers again after [\d.]+s of downtime for the archive/);
    await ledgerReady();
    expect(ledger('SELECT count(*) FROM entries')).toBe('400');
  });

  it('`restore full` brings the database back from its dump, not from the archive of its data directory', async () => {
    ledger('DELETE FROM entries WHERE id > 100');

    const res = await drbot(ws, ['restore', 'full', '--yes', '--json']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout).data.plan as { assets: Array<{ asset: string }>; notes: string[] };
    const planned = plan.assets.map((a) => a.asset);
    expect(planned).toEqual(expect.arrayContaining(['ledger-db', 'orders-db', 'mysql-prod', 'app-data']));
    expect(planned).not.toContain('ledger-data');
    expect(planned).not.toContain('orders-data');
    expect(plan.notes.join('\n')).toMatch(
      /ledger-data: the data directory of ledger-db, which is restored from its dump, not from a tar/,
    );
    expect(ledger('SELECT count(*) FROM entries')).toBe('400');
  });
});
