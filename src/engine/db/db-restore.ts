// Loading a dump into a database server through its own client, and waiting until it is ready.
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DbEngine } from '../../domain/assets.js';
import { ErrorCode, externalError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { ContainerRuntime } from '../../ports/container-runtime.js';
import { DumpAnalyzer, type DumpContents, dbClient, PgRestoreFilter } from './db-clients.js';
import { databaseLabel, type TableName, tableInSql } from './identifiers.js';
import { MysqlParallelLoader, SqlSession } from './mysql-parallel-load.js';
import type { DbTarget } from './types.js';

export type { DbTarget } from './types.js';

const clientCache = new WeakMap<ContainerRuntime, Map<string, string>>();

/** The SQL client that exists in the container (`mariadb` or `mysql`; `psql`). */
async function pickClient(t: DbTarget): Promise<string> {
  const cache = clientCache.get(t.runtime) ?? new Map<string, string>();
  clientCache.set(t.runtime, cache);
  const cached = cache.get(t.container);
  if (cached) return cached;
  for (const c of dbClient(t.engine).clients) {
    const res = await t.runtime.exec(t.container, { cmd: [c, '--version'] });
    if (res.exitCode === 0) {
      cache.set(t.container, c);
      return c;
    }
  }
  throw externalError(
    ErrorCode.RESTORE_FAILED,
    `no SQL client (${dbClient(t.engine).clients.join(', ')}) in container ${t.container}`,
    {
      asset: t.asset,
      step: 'restore',
    },
  );
}

/** `restore.loadSessions` as a number: `auto` is one session per CPU, at most 4. */
export function loadSessions(setting: 'auto' | number): number {
  return setting === 'auto' ? Math.max(1, Math.min(4, availableParallelism())) : setting;
}

/**
 * Feeds a decompressed dump to the server's own client inside the container (stdin, argv
 * array, password in the exec environment) and returns what the dump said it contained.
 * A MySQL/MariaDB dump is loaded through `sessions` client sessions at once (see
 * mysql-parallel-load.ts); PostgreSQL's through one.
 */
export async function restoreDump(
  t: DbTarget,
  sql: Readable,
  options: { engineVersion?: string | undefined; sessions?: number } = {},
): Promise<DumpContents & { sessions: number }> {
  const client = await pickClient(t);
  const analyzer = new DumpAnalyzer(t.engine);
  let input: Readable = sql.pipe(analyzer);
  sql.once('error', (err) => analyzer.destroy(err));
  const sessions = options.sessions ?? 1;
  if (t.engine !== 'postgres' && sessions > 1) {
    const loader = new MysqlParallelLoader((label) => SqlSession.open(t, client, label), sessions);
    await pipeline(input, loader);
    return Object.assign(analyzer.contents, { sessions: loader.sessionsUsed });
  }
  if (t.engine === 'postgres') {
    const major = Number(/(\d+)/.exec(options.engineVersion ?? '')?.[1] ?? 0);
    const filter = new PgRestoreFilter(t.user, major >= 13);
    analyzer.once('error', (err) => filter.destroy(err));
    input = analyzer.pipe(filter);
  }
  const c = dbClient(t.engine);
  const exec = await t.runtime.execStream(t.container, {
    cmd: c.restoreArgs(client, t.user),
    env: c.passwordEnv(t.password),
    stdin: input,
  });
  exec.stdout.resume();
  const res = await exec.done;
  if (res.exitCode !== 0) {
    throw externalError(
      ErrorCode.RESTORE_FAILED,
      `${client} in container ${t.container} exited with code ${res.exitCode} while loading the dump`,
      {
        asset: t.asset,
        step: 'restore',
        stderrTail: res.stderrTail.trim().split('\n').slice(-8).join('\n'),
      },
    );
  }
  return Object.assign(analyzer.contents, { sessions: 1 });
}

/**
 * Polls until the server answers an authenticated query, or the deadline passes — never a
 * fixed sleep. Returns how long it took.
 */
export async function waitForDatabase(t: DbTarget, clock: Clock, timeoutMs: number): Promise<number> {
  const started = clock.monotonic();
  const c = dbClient(t.engine);
  let last = '';
  for (;;) {
    try {
      const client = await pickClient(t);
      const ping = await t.runtime.exec(t.container, {
        cmd: c.pingArgs(client, t.user),
        env: c.passwordEnv(t.password),
      });
      if (ping.exitCode === 0) {
        const q = await t.runtime.exec(t.container, {
          cmd: c.sanityArgs(client, t.user),
          env: c.passwordEnv(t.password),
        });
        if (q.exitCode === 0 && /^\d+/.test(q.stdout.trim())) return clock.monotonic() - started;
        last = q.stderrTail.trim() || `sanity query exited ${q.exitCode}`;
      } else {
        last = ping.stderrTail.trim() || ping.stdout.trim() || `ping exited ${ping.exitCode}`;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    if (clock.monotonic() - started > timeoutMs) {
      throw externalError(
        ErrorCode.NOT_READY,
        `${t.engine} in container ${t.container} was not ready within ${Math.round(timeoutMs / 1000)} s: ${last.split('\n').slice(-2).join(' ')}`,
        {
          asset: t.asset,
          step: 'ready',
        },
      );
    }
    await clock.sleep(500);
  }
}

/** What the server holds after a load: its databases, and rows per table of the dump (by key). */
export interface RestoredCounts {
  databases: Set<string>;
  rows: Map<string, number>;
}

/**
 * Row counts of the tables the dump filled, and the databases that exist. Names reach the
 * server only quoted by the engine's rules, in scripts read from stdin; answers come back as
 * hex or as the table's index in the script, never as names (the client's output escapes and
 * separators would garble them). PostgreSQL is asked once per database, connected with
 * `--dbname` in argv: no psql meta-command (`\connect`) carries a name.
 */
export async function countRestored(t: DbTarget, contents: DumpContents): Promise<RestoredCounts> {
  const client = await pickClient(t);
  const tables = [...contents.tables];
  const rows = new Map<string, number>();
  const pg = t.engine === 'postgres';
  const databases = new Set(
    (
      await runScript(
        t,
        client,
        undefined,
        pg
          ? "SELECT 'db', encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database;"
          : "SELECT 'db', HEX(SCHEMA_NAME) FROM information_schema.SCHEMATA;",
      )
    ).map(([, hex]) => Buffer.from(hex, 'hex').toString('utf8')),
  );
  const byDb = new Map<string | undefined, number[]>();
  tables.forEach(([, table], i) => {
    // MySQL counts every database in one session; a database that is gone has nothing to count.
    const session = pg ? table.db : undefined;
    if (databases.has(table.db)) byDb.set(session, [...(byDb.get(session) ?? []), i]);
  });
  for (const [db, indexes] of byDb) {
    const script = indexes
      .map(
        (i) =>
          `SELECT 't${i}', count(*) FROM ${tableInSql(t.engine, (tables[i] as [string, TableName])[1])};`,
      )
      .join('\n');
    for (const [tag, count] of await runScript(t, client, db, script)) {
      const key = tables[Number(tag.slice(1))]?.[0];
      if (key !== undefined && tag.startsWith('t')) rows.set(key, Number(count));
    }
  }
  return { databases, rows };
}

/** Runs a script through the SQL client (on `db` for PostgreSQL) and returns its tab-split rows. */
async function runScript(
  t: DbTarget,
  client: string,
  db: string | undefined,
  script: string,
): Promise<Array<[string, string]>> {
  const c = dbClient(t.engine);
  const exec = await t.runtime.execStream(t.container, {
    cmd: c.queryArgs(client, t.user, db),
    env: c.passwordEnv(t.password),
    stdin: Readable.from([`${script}\n`]),
  });
  const chunks: Buffer[] = [];
  exec.stdout.on('data', (b: Buffer) => chunks.push(b));
  const res = await exec.done;
  if (res.exitCode !== 0) {
    throw externalError(
      ErrorCode.SANITY_CHECK_FAILED,
      `counting rows in ${t.container}${db === undefined ? '' : ` (database ${databaseLabel(t.engine, db)})`} failed (exit ${res.exitCode})`,
      {
        asset: t.asset,
        step: 'check',
        stderrTail: res.stderrTail.trim().split('\n').slice(-5).join('\n'),
      },
    );
  }
  const out: Array<[string, string]> = [];
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    const [tag, value] = line.split('\t');
    if (tag && value !== undefined) out.push([tag, value]);
  }
  return out;
}

/** What is wrong with a restore, judged against what the dump contained. */
export function checkRestored(engine: DbEngine, contents: DumpContents, found: RestoredCounts): string[] {
  const problems: string[] = [];
  for (const db of contents.databases)
    if (!found.databases.has(db)) problems.push(`database ${databaseLabel(engine, db)} is missing`);
  for (const [table, { rows: expected, db }] of contents.tables) {
    const got = found.rows.get(table);
    if (got === undefined) {
      // Already said when its database is missing.
      if (found.databases.has(db)) problems.push(`table ${table} could not be counted`);
    } else if (engine === 'postgres' && got !== expected)
      problems.push(`table ${table} has ${got} rows, the dump had ${expected}`);
    else if (engine !== 'postgres' && expected > 0 && got === 0)
      problems.push(`table ${table} is empty, the dump had rows for it`);
  }
  return problems;
}
