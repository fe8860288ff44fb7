// Databases, schemas and tables with hostile names survive backup, verify --deep, restore and undo, and nothing in them runs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/adapters/docker/docker-runtime.js';
import { LocalDirTarget } from '../../src/adapters/local-dir/local-target.js';
import { openSqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { buildConfig } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import { dispatch, type Reply } from '../../src/front/dispatch.js';
import { createLogger, type Logger } from '../../src/log.js';
import { systemClock } from '../../src/ports/clock.js';
import { execIn } from '../fixtures/docker.js';
import { createSeed, type Seed, teardownSeed } from '../fixtures/seed.js';

/*
 * Names chosen to break whatever writes them into SQL or psql scripts by hand: quotes of every
 * kind, backslashes, spaces, semicolons, non-ASCII, psql meta-commands (`\!` runs a shell
 * command, a backquoted text in a meta-command's argument is run too, `:NAME` is a variable),
 * and `=` (psql takes a --dbname with `=` as a connection string). Every command they carry
 * would leave a file /tmp/pwned… in the container whose client read it.
 */
const MY_DB = `we\`ird "q" 'x'; \\! touch /tmp/pwned ü`;
const MY_TABLES = [`Order Items; \\! touch /tmp/pwned2`, 'back\\slash\\', `"dq" \\\\! touch /tmp/pwned3`];
const PG_DBS = ['shop-db', `Ünï "q" 'x'; \\! touch /tmp/pwned`, `a=b" \`touch /tmp/pwned-bq\` :HOME`];
const PG_TABLES: Array<[schema: string, table: string]> = [
  ['public', 'Order Items'],
  ['Sales "EU" \\x', 't;\\! touch /tmp/pwned2'],
];

const myId = (s: string) => `\`${s.replaceAll('`', '``')}\``;
const pgId = (s: string) => `"${s.replaceAll('"', '""')}"`;
const pgLit = (s: string) => `'${s.replaceAll("'", "''")}'`;
const myLit = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** A runtime that looks for the marker files in every scratch container before removing it. */
class WatchedRuntime extends DockerRuntime {
  readonly scratchSeen: string[] = [];
  readonly markers: string[] = [];

  override async removeContainer(name: string): Promise<void> {
    const res = await this.exec(name, { cmd: ['ls', '-a', '/tmp'] }).catch(() => undefined);
    if (res?.exitCode === 0) {
      this.scratchSeen.push(name);
      this.markers.push(...res.stdout.split('\n').filter((f) => f.includes('pwned')));
    }
    await super.removeContainer(name);
  }
}

let seed: Seed;
let engine: Engine;
let runtime: WatchedRuntime;
let log: Logger;
let closeStore: () => void;

function markersIn(container: string): string[] {
  return execIn(container, ['ls', '-a', '/tmp'])
    .split('\n')
    .filter((f) => f.includes('pwned'));
}

function mysql(sql: string): string {
  return execIn('mysql-prod', ['mariadb', '-uroot', '--batch', '--skip-column-names'], {
    input: sql,
    env: seed.mysqlEnv,
  });
}

function psql(db: string, sql: string): string {
  // The database by connection string in argv: how the test reaches names psql would mangle.
  const conninfo = `dbname='${db.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  return execIn('postgres-prod', ['psql', '-U', 'postgres', '-d', conninfo, '-v', 'ON_ERROR_STOP=1', '-At'], {
    input: sql,
    env: seed.postgresEnv,
  });
}

/** What "the same rows" means here: per hostile table, its count and content. */
function fingerprint(): string {
  const my = MY_TABLES.map((t) =>
    mysql(`SELECT COUNT(*), MD5(GROUP_CONCAT(v ORDER BY id)) FROM ${myId(MY_DB)}.${myId(t)};`).trim(),
  );
  const pg = PG_DBS.flatMap((db) =>
    PG_TABLES.map(([s, t]) =>
      psql(db, `SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM ${pgId(s)}.${pgId(t)};`).trim(),
    ),
  );
  return [...my, ...pg].join('\n');
}

function seedHostile(): void {
  const my = [`CREATE DATABASE ${myId(MY_DB)};`, `USE ${myId(MY_DB)};`];
  for (const t of MY_TABLES) {
    my.push(
      `CREATE TABLE ${myId(MY_DB)}.${myId(t)} (id INT PRIMARY KEY, v TEXT);`,
      `INSERT INTO ${myId(MY_DB)}.${myId(t)} SELECT seq, CONCAT(${myLit(t)}, ' row ', seq) FROM seq_1_to_25;`,
    );
  }
  mysql(my.join('\n'));
  for (const db of PG_DBS) {
    psql('postgres', `CREATE DATABASE ${pgId(db)};`);
    const pg: string[] = [];
    for (const [s, t] of PG_TABLES) {
      if (s !== 'public') pg.push(`CREATE SCHEMA ${pgId(s)};`);
      pg.push(
        `CREATE TABLE ${pgId(s)}.${pgId(t)} (id int PRIMARY KEY, v text);`,
        `INSERT INTO ${pgId(s)}.${pgId(t)} SELECT g, ${pgLit(t)} || ' row ' || g FROM generate_series(1, 25) g;`,
      );
    }
    psql(db, pg.join('\n'));
  }
}

/** Deletes rows from every hostile table: what a restore must bring back and undo take away again. */
function damage(): void {
  mysql(MY_TABLES.map((t) => `DELETE FROM ${myId(MY_DB)}.${myId(t)} WHERE id > 5;`).join('\n'));
  for (const db of PG_DBS)
    psql(db, PG_TABLES.map(([s, t]) => `DELETE FROM ${pgId(s)}.${pgId(t)} WHERE id > 5;`).join('\n'));
}

async function run(line: string): Promise<Reply> {
  return dispatch(line.split(' '), { engine, requester: 'U0ONCALL', log });
}

beforeAll(async () => {
  seed = await createSeed();
  seedHostile();
  const dir = mkdtempSync(join(tmpdir(), 'drbot-hostile-'));
  const config = buildConfig(
    {
      state: './state.sqlite',
      storage: { local: { dir: './backups' } },
      databases: [{ name: 'mysql-prod', container: 'mysql-prod', engine: 'mariadb', tier: 'critical' }],
    },
    join(dir, 'drbot.yaml'),
  );
  log = createLogger({
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
    level: 'debug',
  });
  runtime = new WatchedRuntime(config.docker.host, log);
  const store = openSqliteStore(config.state);
  closeStore = () => store.close();
  engine = new Engine({
    config,
    runtime,
    targets: [new LocalDirTarget(config.storage.local.dir)],
    store,
    clock: systemClock,
    log,
    env: {},
  });
});

afterAll(() => {
  closeStore?.();
  teardownSeed();
});

describe('hostile database, schema and table names', () => {
  let original: string;
  let damaged: string;
  let restoreRun: string;

  it('are backed up and pass a deep verify with every table counted, nothing run in the scratch', async () => {
    original = fingerprint();

    const backups = [await run('backup mysql-prod'), await run('backup postgres-prod')];
    const [my, pg] = backups.map((b) => (b.data as { setId: string }).setId);
    const verifyMy = await run(`verify ${my} --deep`);
    const verifyPg = await run(`verify ${pg} --deep`);

    for (const b of backups) expect(b.exitCode, b.text).toBe(0);
    expect(verifyMy.exitCode, verifyMy.text).toBe(0);
    expect(verifyPg.exitCode, verifyPg.text).toBe(0);
    // MariaDB: the system schema, the fixture's shop and the hostile database, every table counted.
    expect(verifyMy.text).toMatch(/into scratch mariadb .*: 3 database\(s\), \d+ table\(s\) with data/);
    // PostgreSQL: 3 hostile databases × 2 tables × 25 rows, and the fixture's inventory (1500 rows).
    expect(verifyPg.text).toMatch(
      /restored from local into scratch postgres .*: 5 database\(s\), 7 table\(s\) with data, 1650 rows/,
    );
    expect(runtime.scratchSeen).toHaveLength(2);
    expect(runtime.markers).toEqual([]);
  });

  it('are restored (db-only) with the same rows, nothing run in the database containers', async () => {
    damage();
    damaged = fingerprint();
    expect(damaged).not.toBe(original);

    const res = await run('restore db-only --yes');

    expect(res.exitCode, res.text).toBe(0);
    expect(fingerprint()).toBe(original);
    restoreRun = (res.data as { run: { id: string } }).run.id;
    expect(markersIn('mysql-prod')).toEqual([]);
    expect(markersIn('postgres-prod')).toEqual([]);
  });

  it('are put back as they were before the restore by undo', async () => {
    const res = await run(`undo ${restoreRun} --yes`);

    expect(res.exitCode, res.text).toBe(0);
    expect(fingerprint()).toBe(damaged);
    expect(markersIn('mysql-prod')).toEqual([]);
    expect(markersIn('postgres-prod')).toEqual([]);
    expect(runtime.markers).toEqual([]);
  });
});
