// The fake database servers' side: dumps as the real tools write them, and the SQL their clients run.

export type FakeEngine = 'mariadb' | 'mysql' | 'postgres';

/** Tables by database: database → table → rows (one text column per row). */
export type FakeData = Map<string, Map<string, string[]>>;

/** The one database and table a test's "database content" lives in. */
export const CONTENT_DB = 'app';
export const contentTable = (engine: FakeEngine) => (engine === 'postgres' ? 'public.content' : 'content');

/** Databases every server has before anything is loaded (never dumped, always listed). */
const SYSTEM_DATABASES: Record<FakeEngine, string[]> = {
  mariadb: ['information_schema', 'mysql', 'performance_schema', 'sys'],
  mysql: ['information_schema', 'mysql', 'performance_schema', 'sys'],
  postgres: ['postgres', 'template0', 'template1'],
};

/** The programs each engine's image has, and what `--version` prints for them. */
export const TOOLS: Record<FakeEngine, { dump: string; client: string; admin: string }> = {
  mariadb: { dump: 'mariadb-dump', client: 'mariadb', admin: 'mariadb-admin' },
  mysql: { dump: 'mysqldump', client: 'mysql', admin: 'mysqladmin' },
  postgres: { dump: 'pg_dumpall', client: 'psql', admin: 'pg_isready' },
};

/** Every database program the fake knows, whichever image has it. */
export const KNOWN_PROGRAMS = new Set(Object.values(TOOLS).flatMap((t) => [t.dump, t.client, t.admin]));

export function versionLine(engine: FakeEngine, program: string, version: string): string {
  if (engine === 'postgres') return `${program} (PostgreSQL) ${version.split(' ')[0]}`;
  if (engine === 'mariadb') return `${program} from ${version}, client 10.19 for debian-linux-gnu (x86_64)`;
  return `${program}  Ver ${version} for Linux on x86_64 (MySQL Community Server - GPL)`;
}

export function systemDatabases(engine: FakeEngine): string[] {
  return SYSTEM_DATABASES[engine];
}

/** A failed statement, as the client reports it on stderr before exiting non-zero. */
export class SqlError extends Error {}

/** A statement the fake does not know at all (the engine, or the dumps, changed). */
export class UnknownSql extends SqlError {}

// --- dumps --------------------------------------------------------------------------------------

const myEscape = (s: string) =>
  s
    .replaceAll('\\', '\\\\')
    .replaceAll("'", "\\'")
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\0', '\\0');

const pgEscape = (s: string) =>
  s.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n').replaceAll('\r', '\\r');

const pgUnescape = (s: string) =>
  s.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);

const stamp = (at: Date) => at.toISOString().slice(0, 19).replace('T', ' ');

/** What `mysqldump`/`mariadb-dump --all-databases` writes for the data (system schemas left out). */
export function mysqlDump(engine: 'mariadb' | 'mysql', version: string, data: FakeData, at: Date): string {
  const out = [
    engine === 'mariadb'
      ? `-- MariaDB dump 10.19-${version.split('-')[0]}-MariaDB, for debian-linux-gnu (x86_64)`
      : `-- MySQL dump 10.13  Distrib ${version}, for Linux (x86_64)`,
    '--',
    '-- Host: localhost    Database: ',
    '-- ------------------------------------------------------',
    `-- Server version\t${version}`,
    '',
    '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;',
    '/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;',
    '/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;',
    '/*!40101 SET NAMES utf8mb4 */;',
    '/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;',
    "/*!40103 SET TIME_ZONE='+00:00' */;",
    '/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;',
    '/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;',
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
    '/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;',
  ];
  for (const [db, tables] of data) {
    out.push(
      '',
      '--',
      `-- Current Database: \`${db}\``,
      '--',
      '',
      `CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`${db}\` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;`,
      '',
      `USE \`${db}\`;`,
    );
    for (const [table, rows] of tables) {
      out.push(
        '',
        '--',
        `-- Table structure for table \`${table}\``,
        '--',
        '',
        `DROP TABLE IF EXISTS \`${table}\`;`,
        '/*!40101 SET @saved_cs_client     = @@character_set_client */;',
        '/*!40101 SET character_set_client = utf8mb4 */;',
        `CREATE TABLE \`${table}\` (`,
        '  `body` longtext NOT NULL',
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;',
        '/*!40101 SET character_set_client = @saved_cs_client */;',
        '',
        '--',
        `-- Dumping data for table \`${table}\``,
        '--',
        '',
        `LOCK TABLES \`${table}\` WRITE;`,
        `/*!40000 ALTER TABLE \`${table}\` DISABLE KEYS */;`,
        ...(rows.length
          ? [`INSERT INTO \`${table}\` VALUES ${rows.map((r) => `('${myEscape(r)}')`).join(',')};`]
          : []),
        `/*!40000 ALTER TABLE \`${table}\` ENABLE KEYS */;`,
        'UNLOCK TABLES;',
      );
    }
  }
  out.push(
    '/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;',
    '',
    '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;',
    '/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;',
    '/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;',
    '/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;',
    '/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;',
    '/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;',
    '/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;',
    '',
    `-- Dump completed on ${stamp(at)}`,
    '',
  );
  return out.join('\n');
}

/** What `pg_dumpall --clean --if-exists` writes: roles, then each database with its COPY data. */
export function pgDumpall(version: string, user: string, data: FakeData): string {
  const dbHeader = [
    '--',
    '-- PostgreSQL database dump',
    '--',
    '',
    `-- Dumped from database version ${version}`,
    `-- Dumped by pg_dump version ${version}`,
    '',
    'SET statement_timeout = 0;',
    "SET client_encoding = 'UTF8';",
    'SET standard_conforming_strings = on;',
    "SELECT pg_catalog.set_config('search_path', '', false);",
    '',
  ];
  const dbFooter = ['--', '-- PostgreSQL database dump complete', '--', ''];
  const out = [
    '--',
    '-- PostgreSQL database cluster dump',
    '--',
    '',
    'SET default_transaction_read_only = off;',
    '',
    "SET client_encoding = 'UTF8';",
    'SET standard_conforming_strings = on;',
    '',
    '--',
    '-- Drop databases (except postgres and template1)',
    '--',
    '',
    ...[...data.keys()].map((db) => `DROP DATABASE IF EXISTS ${db};`),
    '',
    '--',
    '-- Drop roles',
    '--',
    '',
    `DROP ROLE IF EXISTS ${user};`,
    '',
    '--',
    '-- Roles',
    '--',
    '',
    `CREATE ROLE ${user};`,
    `ALTER ROLE ${user} WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:ZmFrZQ==$c2FsdA==:a2V5';`,
    '',
    '--',
    '-- Databases',
    '--',
    '',
    '--',
    '-- Database "template1" dump',
    '--',
    '',
    '\\connect template1',
    '',
    ...dbHeader,
    ...dbFooter,
  ];
  for (const [db, tables] of data) {
    out.push(
      '--',
      `-- Database "${db}" dump`,
      '--',
      '',
      ...dbHeader,
      '--',
      `-- Name: ${db}; Type: DATABASE; Schema: -; Owner: ${user}`,
      '--',
      '',
      `CREATE DATABASE ${db} WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'en_US.utf8';`,
      '',
      `ALTER DATABASE ${db} OWNER TO ${user};`,
      '',
      `\\connect ${db}`,
      '',
      'SET statement_timeout = 0;',
      '',
    );
    for (const [table, rows] of tables) {
      out.push(
        `CREATE TABLE ${table} (`,
        '    body text NOT NULL',
        ');',
        '',
        `ALTER TABLE ${table} OWNER TO ${user};`,
        '',
        `COPY ${table} (body) FROM stdin;`,
        ...rows.map(pgEscape),
        '\\.',
        '',
      );
    }
    out.push(...dbFooter);
  }
  out.push('--', '-- PostgreSQL database cluster dump complete', '--', '');
  return out.join('\n');
}

// --- clients ------------------------------------------------------------------------------------

/** A client session reading SQL from stdin line by line; output lines come back as they are due. */
export interface SqlSession {
  /** One input line (no newline); returns what the client prints for it. Throws SqlError. */
  line(text: string): string[];
  /** End of input; throws SqlError when a statement was left unfinished. */
  end(): void;
  /** One statement without its `;`, as `-e` / `-c` pass it; returns the rows printed. */
  run(sql: string): string[];
}

function unquoteMy(s: string): string {
  return s.replaceAll('``', '`');
}

/** The single-quoted strings of `('a'),('b')`, mysqldump's escapes undone. */
function mysqlTuples(values: string): string[] {
  const rows: string[] = [];
  let i = 0;
  const expect = (c: string) => {
    if (values[i] !== c) throw new SqlError(`expected ${c} at ${i} in VALUES`);
    i++;
  };
  while (i < values.length) {
    expect('(');
    expect("'");
    let row = '';
    for (;;) {
      const c = values[i++];
      if (c === undefined) throw new SqlError('unterminated string in VALUES');
      if (c === '\\') {
        const n = values[i++] as string;
        row += ({ n: '\n', r: '\r', '0': '\0', Z: '\x1a' } as Record<string, string>)[n] ?? n;
      } else if (c === "'") {
        if (values[i] === "'") {
          row += "'";
          i++;
        } else break;
      } else row += c;
    }
    expect(')');
    rows.push(row);
    if (values[i] === ',') i++;
  }
  return rows;
}

/** The `mariadb`/`mysql` client (`--batch --skip-column-names`): tab-separated rows out. */
export class MysqlSession implements SqlSession {
  private statement: string[] = [];
  private lineNo = 0;
  private db: string | undefined;

  constructor(
    private readonly engine: 'mariadb' | 'mysql',
    private readonly data: FakeData,
  ) {}

  line(text: string): string[] {
    this.lineNo++;
    const trimmed = text.trim();
    if (!this.statement.length) {
      if (trimmed === '' || /^--(\s|$)/.test(trimmed) || trimmed.startsWith('#')) return [];
      if (trimmed.startsWith('/*') && !trimmed.startsWith('/*!') && trimmed.endsWith('*/')) return [];
      if (/^DELIMITER\s/i.test(trimmed)) this.fail(trimmed);
    }
    this.statement.push(text);
    if (!trimmed.endsWith(';')) return [];
    const sql = this.statement.join('\n').trim();
    this.statement = [];
    return this.run(sql.slice(0, -1).trim());
  }

  end(): void {
    if (this.statement.length) this.fail(this.statement.join('\n'));
  }

  /** One statement without its `;` (also what `-e` passes). */
  run(sql: string): string[] {
    for (const [pattern, apply] of this.statements) {
      const m = pattern.exec(sql);
      if (m)
        return apply(
          m.slice(1).map((g) => (g === undefined ? '' : g)),
          sql,
        );
    }
    return this.fail(sql);
  }

  /** The statements the fake knows, first match wins; groups come in with backquotes undone where names. */
  private readonly statements: Array<[RegExp, (g: string[], sql: string) => string[]]> = [
    [/^\/\*!\d+ [\s\S]*\*\/$/, () => []],
    [/^SET /i, () => []],
    [/^(UN)?LOCK TABLES/, () => []],
    [
      /^CREATE DATABASE .*?`((?:[^`]|``)+)`/,
      ([db]) => {
        const name = unquoteMy(db as string);
        if (!this.data.has(name)) this.data.set(name, new Map());
        return [];
      },
    ],
    [
      /^USE `((?:[^`]|``)+)`$/,
      ([db]) => {
        this.db = unquoteMy(db as string);
        this.tables();
        return [];
      },
    ],
    [
      /^DROP TABLE IF EXISTS `((?:[^`]|``)+)`$/,
      ([table]) => {
        this.tables().delete(unquoteMy(table as string));
        return [];
      },
    ],
    [
      /^CREATE TABLE `((?:[^`]|``)+)` \(/,
      ([table]) => {
        this.tables().set(unquoteMy(table as string), []);
        return [];
      },
    ],
    [
      /^INSERT INTO `((?:[^`]|``)+)` VALUES ([\s\S]*)$/,
      ([quoted, values], sql) => {
        const table = unquoteMy(quoted as string);
        const rows = this.tables().get(table);
        if (!rows) this.fail(sql, `Table '${this.db}.${table}' doesn't exist`, 1146, '42S02');
        rows.push(...mysqlTuples(values as string));
        return [];
      },
    ],
    [/^SELECT '((?:[^'\\]|\\.)*)'$/, ([literal]) => [literal as string]],
    [/^SELECT COUNT\(\*\) FROM information_schema\.SCHEMATA$/, () => [String(this.databases().length)]],
    // Point-in-time recovery's prerequisite check: the fake server runs without binary logging.
    [/^SELECT @@log_bin, @@binlog_format, IFNULL\(@@log_bin_basename, ""\)$/, () => ['0\tROW\t']],
    [
      /^SELECT 'db', HEX\(SCHEMA_NAME\) FROM information_schema\.SCHEMATA$/,
      () => this.databases().map((d) => `db\t${Buffer.from(d).toString('hex').toUpperCase()}`),
    ],
    [
      /^SELECT '((?:[^'\\]|\\.)*)', count\(\*\) FROM `((?:[^`]|``)+)`\.`((?:[^`]|``)+)`$/i,
      ([label, db, table], sql) => {
        const [d, t] = [unquoteMy(db as string), unquoteMy(table as string)];
        const rows = this.data.get(d)?.get(t);
        if (!rows) this.fail(sql, `Table '${d}.${t}' doesn't exist`, 1146, '42S02');
        return [`${label}\t${rows.length}`];
      },
    ],
  ];

  private databases(): string[] {
    return [...systemDatabases(this.engine), ...this.data.keys()].sort();
  }

  private tables(): Map<string, string[]> {
    const tables = this.db === undefined ? undefined : this.data.get(this.db);
    if (!tables)
      return this.fail(`USE ${this.db ?? ''}`, `Unknown database '${this.db ?? ''}'`, 1049, '42000');
    return tables;
  }

  private fail(sql: string, why?: string, code = 1064, state = '42000'): never {
    throw new (why ? SqlError : UnknownSql)(
      `ERROR ${code} (${state}) at line ${this.lineNo}: ${why ?? `fake ${this.engine} does not understand: ${sql.slice(0, 120)}`}`,
    );
  }
}

/** The parts of a qualified PostgreSQL name, each bare or double-quoted (`""` inside). */
function pgNameParts(name: string): string[] {
  return [...name.matchAll(/"((?:[^"]|"")*)"|([^\s."]+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replaceAll('""', '"') : (m[2] as string),
  );
}

/** `psql -At -F '\t'` reading a script: meta-commands, statements, COPY data. */
export class PsqlSession implements SqlSession {
  private statement: string[] = [];
  private lineNo = 0;
  private copying: string[] | undefined;

  constructor(
    private readonly data: FakeData,
    private readonly user: string,
    /** The database connected to (`--dbname`); `\connect` moves on. */
    private db = 'postgres',
  ) {}

  /** Whether a database exists to connect to. */
  static exists(data: FakeData, db: string): boolean {
    return systemDatabases('postgres').includes(db) || data.has(db);
  }

  line(text: string): string[] {
    this.lineNo++;
    if (this.copying) {
      if (text === '\\.') this.copying = undefined;
      else this.copying.push(pgUnescape(text));
      return [];
    }
    const trimmed = text.trim();
    if (!this.statement.length) {
      if (trimmed === '' || trimmed.startsWith('--')) return [];
      if (trimmed.startsWith('\\')) return this.meta(trimmed);
    }
    this.statement.push(text);
    if (!trimmed.endsWith(';')) return [];
    const sql = this.statement.join('\n').trim();
    this.statement = [];
    return this.run(sql.slice(0, -1).trim());
  }

  end(): void {
    if (this.statement.length || this.copying) this.fail('unexpected end of input');
  }

  run(sql: string): string[] {
    for (const [pattern, apply] of this.statements) {
      const m = pattern.exec(sql);
      if (m)
        return apply(
          m.slice(1).map((g) => (g === undefined ? '' : g)),
          sql,
        );
    }
    return this.fail(sql);
  }

  /** The statements the fake knows, first match wins. */
  private readonly statements: Array<[RegExp, (g: string[], sql: string) => string[]]> = [
    [/^SET /, () => []],
    [/^SELECT pg_catalog\.set_config\(/, () => []],
    // A role's password is what the restoring role must keep (see PgRestoreFilter): not known here.
    [/^ALTER (DATABASE|TABLE|ROLE) (?![^;]* PASSWORD )/, () => []],
    [
      /^DROP ROLE IF EXISTS "?([^";]+)"?$/,
      ([role], sql) => (role === this.user ? this.fail(sql, 'current user cannot be dropped') : []),
    ],
    [
      /^CREATE ROLE "?([^";]+)"?$/,
      ([role], sql) => (role === this.user ? this.fail(sql, `role "${this.user}" already exists`) : []),
    ],
    [
      /^DROP DATABASE IF EXISTS (\w+)( WITH \(FORCE\))?$/,
      ([db]) => {
        this.data.delete(db as string);
        return [];
      },
    ],
    [
      /^CREATE DATABASE (\w+) /,
      ([db], sql) => {
        if (this.data.has(db as string)) this.fail(sql, `database "${db}" already exists`);
        this.data.set(db as string, new Map());
        return [];
      },
    ],
    [
      /^CREATE TABLE ([\w.]+) \(/,
      ([table]) => {
        this.tables().set(table as string, []);
        return [];
      },
    ],
    [
      /^COPY ([\w.]+) \(body\) FROM stdin$/,
      ([table], sql) => {
        const rows = this.tables().get(table as string);
        if (!rows) this.fail(sql, `relation "${table}" does not exist`);
        this.copying = rows;
        return [];
      },
    ],
    [/^SELECT count\(\*\) FROM pg_database$/, () => [String(this.databases().length)]],
    // WAL archiving's prerequisites: this fake server runs with wal_level = minimal.
    [/^SELECT current_setting\('wal_level'\), /, () => ['minimal|10|10|16777216|t']],
    [
      /^SELECT 'db', encode\(convert_to\(datname, 'UTF8'\), 'hex'\) FROM pg_database$/,
      () => this.databases().map((d) => `db\t${Buffer.from(d).toString('hex')}`),
    ],
    [
      /^SELECT '((?:[^']|'')*)', count\(\*\) FROM ((?:"(?:[^"]|"")*"|[^\s."]+)(?:\.(?:"(?:[^"]|"")*"|[^\s."]+))*)$/,
      ([label, name], sql) => {
        const table = pgNameParts(name as string).join('.');
        const rows = this.tables().get(table);
        if (!rows) this.fail(sql, `relation "${table}" does not exist`);
        return [`${(label as string).replaceAll("''", "'")}\t${rows.length}`];
      },
    ],
  ];

  private meta(line: string): string[] {
    const m = /^\\connect (?:-reuse-previous=on )?"?([^"\s]+)"?$/.exec(line);
    if (!m) return this.fail(line);
    const db = m[1] as string;
    if (!this.databases().includes(db)) this.fail(line, `database "${db}" does not exist`);
    this.db = db;
    return [];
  }

  private databases(): string[] {
    return [...systemDatabases('postgres'), ...this.data.keys()].sort();
  }

  private tables(): Map<string, string[]> {
    const tables = this.data.get(this.db);
    // The fake keeps data in user databases only; a script writing to `postgres` is not one it knows.
    if (!tables) return this.fail(`\\connect ${this.db}`, `fake postgres keeps no tables in ${this.db}`);
    return tables;
  }

  private fail(sql: string, why?: string): never {
    throw new (why ? SqlError : UnknownSql)(
      `psql:<stdin>:${this.lineNo}: ERROR:  ${why ?? `fake postgres does not understand: ${sql.slice(0, 120)}`}`,
    );
  }
}
