// Each database engine's client commands, and the dump analyzer used to check a restore.
import { Transform, type TransformCallback } from 'node:stream';
import type { DbEngine } from '../../domain/assets.js';
import {
  pgDbnameConninfo,
  psqlConnectTarget,
  readPgQualifiedName,
  type TableName,
  tableLabel,
  unquoteMysqlIdent,
} from './identifiers.js';

/**
 * What drbot runs inside a database container to restore and check a dump. Argv arrays only;
 * the password goes through the exec environment (`MYSQL_PWD` / `PGPASSWORD`).
 */
export interface DbClient {
  /** Candidates for the SQL client, first that exists wins. */
  clients: string[];
  restoreArgs(client: string, user: string): string[];
  pingArgs(client: string, user: string): string[];
  /** An authenticated query that proves the server answers and the credentials work. */
  sanityArgs(client: string, user: string): string[];
  /**
   * Reads SQL for row counts from stdin and prints tab-separated rows; PostgreSQL connects to
   * `db` (default `postgres`), MySQL/MariaDB names databases in the SQL itself.
   */
  queryArgs(client: string, user: string, db?: string): string[];
  passwordEnv(password: string): string[];
}

const mysqlClient: DbClient = {
  clients: ['mariadb', 'mysql'],
  restoreArgs: (c, user) => [c, `--user=${user}`, '--default-character-set=utf8mb4'],
  pingArgs: (c, user) => [c === 'mariadb' ? 'mariadb-admin' : 'mysqladmin', `--user=${user}`, 'ping'],
  sanityArgs: (c, user) => [
    c,
    `--user=${user}`,
    '--batch',
    '--skip-column-names',
    '-e',
    'SELECT COUNT(*) FROM information_schema.SCHEMATA',
  ],
  queryArgs: (c, user) => [c, `--user=${user}`, '--batch', '--skip-column-names'],
  passwordEnv: (p) => [`MYSQL_PWD=${p}`],
};

const postgresClient: DbClient = {
  clients: ['psql'],
  restoreArgs: (c, user) => [
    c,
    '--username',
    user,
    '--dbname',
    'postgres',
    '--no-password',
    '--quiet',
    '-v',
    'ON_ERROR_STOP=1',
  ],
  pingArgs: (_c, user) => ['pg_isready', '--username', user],
  sanityArgs: (c, user) => [
    c,
    '--username',
    user,
    '--dbname',
    'postgres',
    '--no-password',
    '-Atc',
    'SELECT count(*) FROM pg_database',
  ],
  queryArgs: (c, user, db) => [
    c,
    '--username',
    user,
    '--dbname',
    db === undefined ? 'postgres' : pgDbnameConninfo(db),
    '--no-password',
    '-At',
    '-F',
    '\t',
    '-v',
    'ON_ERROR_STOP=1',
  ],
  passwordEnv: (p) => [`PGPASSWORD=${p}`],
};

export function dbClient(engine: DbEngine): DbClient {
  return engine === 'postgres' ? postgresClient : mysqlClient;
}

/** How much of a line's start the analyzer looks at; lines can be megabytes of rows. */
const LINE_START = 65536;

const decode = (buf: Buffer, start: number, end: number) =>
  buf.toString('utf8', start, Math.min(end, start + LINE_START));

/** A table that the dump fills, and how much it has for it. */
export interface DumpTable extends TableName {
  /** Exact rows for PostgreSQL (COPY lines); INSERT statements for MySQL (several rows each). */
  rows: number;
}

/** What a dump says it contains, read while it streams past: databases and tables with rows. */
export interface DumpContents {
  databases: Set<string>;
  /** Keyed by `tableLabel` (each name quoted when it is not plain, so keys never collide). */
  tables: Map<string, DumpTable>;
  /**
   * MySQL/MariaDB: where the dump's data ends in the binary logs, from the comment
   * `--master-data=2` / `--source-data=2` writes; point-in-time recovery replays from there.
   */
  binlogPosition?: { file: string; position: number };
}

/**
 * Watches a SQL dump line by line (without holding it) to learn which databases and tables
 * hold data, so a restore can be checked against it. Names are read with the dump tool's own
 * quoting (backticks for mysqldump; double quotes and `\connect` connection strings for
 * pg_dump), whatever characters they hold.
 */
export class DumpAnalyzer extends Transform {
  readonly contents: DumpContents = { databases: new Set(), tables: new Map() };
  /** The start of a line that continues in the next chunk (only a line's start matters). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private db = '';
  private copying: DumpTable | undefined;

  constructor(private readonly engine: DbEngine) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    // Bytes are scanned for line ends; only the lines that can matter are decoded (a dump is
    // mostly row data, and turning all of it into strings cost seconds per GiB).
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      if (this.partialBytes) {
        this.keepPartial(chunk.subarray(start, nl));
        const line = Buffer.concat(this.partial);
        this.partial = [];
        this.partialBytes = 0;
        this.scan(line, 0, line.length);
      } else {
        this.scan(chunk, start, nl);
      }
      start = nl + 1;
    }
    if (start < chunk.length) this.keepPartial(chunk.subarray(start));
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.partialBytes) {
      const line = Buffer.concat(this.partial);
      this.scan(line, 0, line.length);
    }
    callback();
  }

  private keepPartial(piece: Buffer): void {
    const room = LINE_START - this.partialBytes;
    if (room <= 0) return;
    const take = piece.length > room ? piece.subarray(0, room) : piece;
    // A copy: the chunk it comes from is passed on and may be reused.
    this.partial.push(Buffer.from(take));
    this.partialBytes += take.length;
  }

  /** Looks at the line `buf[start, end)` when its first byte says it can matter. */
  private scan(buf: Buffer, start: number, end: number): void {
    let stop = end;
    if (stop > start && buf[stop - 1] === 0x0d) stop--;
    if (this.engine === 'postgres') {
      if (this.copying !== undefined) {
        // A COPY row, unless it is the `\.` that ends the data.
        if (stop - start === 2 && buf[start] === 0x5c && buf[start + 1] === 0x2e) this.copying = undefined;
        else this.copying.rows++;
        return;
      }
      const first = buf[start];
      if (first === 0x5c /* \ */ || first === 0x43 /* C */) this.pgLine(decode(buf, start, stop));
      return;
    }
    const first = buf[start];
    if (first === 0x55 /* U */ || first === 0x49 /* I */ || first === 0x2d /* - */)
      this.mysqlLine(decode(buf, start, stop));
  }

  private mysqlLine(line: string): void {
    const position =
      /^-- CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE='([^']+)', (?:MASTER|SOURCE)_LOG_POS=(\d+);/.exec(
        line,
      );
    if (position?.[1] && position[2] && !this.contents.binlogPosition) {
      this.contents.binlogPosition = { file: position[1], position: Number(position[2]) };
      return;
    }
    const use = /^USE `((?:[^`]|``)+)`;/.exec(line) ?? /^-- Current Database: `((?:[^`]|``)+)`/.exec(line);
    if (use?.[1]) {
      this.db = unquoteMysqlIdent(use[1]);
      this.contents.databases.add(this.db);
      return;
    }
    const insert = /^INSERT INTO `((?:[^`]|``)+)`/.exec(line);
    if (insert?.[1] && this.db) this.table(undefined, unquoteMysqlIdent(insert[1])).rows++;
  }

  private pgLine(line: string): void {
    const db = psqlConnectTarget(line);
    if (db !== undefined) {
      this.db = db;
      if (this.db !== 'template1') this.contents.databases.add(this.db);
      return;
    }
    if (!line.startsWith('COPY ') || !line.endsWith('FROM stdin;')) return;
    const name = readPgQualifiedName(line, 'COPY '.length);
    if (!name || name.parts.length > 2 || line[name.end] !== ' ') return;
    const [schema, table] = name.parts.length === 2 ? name.parts : [undefined, name.parts[0]];
    this.copying = this.table(schema, table as string);
  }

  /** The entry for a table of the current database, created with no rows on first sight. */
  private table(schema: string | undefined, table: string): DumpTable {
    const t: DumpTable = { db: this.db, schema, table, rows: 0 };
    const key = tableLabel(this.engine, t);
    const known = this.contents.tables.get(key);
    if (known) return known;
    this.contents.tables.set(key, t);
    return t;
  }
}

/**
 * Makes a `pg_dumpall --clean` script restorable as the same superuser on a live server: the
 * script drops and recreates every role, including the one running it, which PostgreSQL
 * refuses; and it drops databases that may still have connections (FORCE, PostgreSQL ≥ 13).
 */
export class PgRestoreFilter extends Transform {
  private partial = '';

  constructor(
    private readonly user: string,
    private readonly force: boolean,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    const text = this.partial + chunk.toString('utf8');
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.partial = text;
      callback();
      return;
    }
    this.partial = text.slice(cut + 1);
    callback(null, this.rewrite(text.slice(0, cut + 1)));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.partial ? this.rewrite(this.partial) : undefined);
  }

  private rewrite(block: string): string {
    const role = this.user.replaceAll('"', '""');
    const ident = `(?:"${escapeRegExp(role)}"|${escapeRegExp(this.user)})`;
    let out = block
      .replace(new RegExp(`^DROP ROLE IF EXISTS ${ident};$`, 'gm'), '-- (drbot) kept the restoring role: $&')
      .replace(new RegExp(`^CREATE ROLE ${ident};$`, 'gm'), '-- (drbot) role exists: $&')
      // The restoring role keeps the password it has now (the one in the container's
      // environment); the dump's would lock drbot and the applications out.
      .replace(new RegExp(`^(ALTER ROLE ${ident} WITH [^;\n]*?) PASSWORD '[^']*';$`, 'gm'), '$1;');
    // A database name may hold `;` and quotes: match pg_dump's quoting, not up to the first `;`.
    if (this.force)
      out = out.replace(
        /^(DROP DATABASE (?:IF EXISTS )?(?:"(?:[^"\n]|"")*"|[^\s";]+));$/gm,
        '$1 WITH (FORCE);',
      );
    return out;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
