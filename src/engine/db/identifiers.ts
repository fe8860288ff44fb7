// Database identifiers: quoted for SQL and psql by each engine's own rules, and read back from dumps.
import type { DbEngine } from '../../domain/assets.js';

/*
 * Database, schema and table names come from the server and from dumps: anyone who can create a
 * database chooses them. They reach SQL only through these functions, never by concatenation.
 */

/** A MySQL/MariaDB identifier: backticks, a backtick inside doubled. */
export function quoteMysqlIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** A PostgreSQL identifier: double quotes, a double quote inside doubled (case is kept). */
export function quotePgIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A libpq connection string naming one database, for `psql --dbname` as argv: psql reads a value
 * with `=` as a connection string, so even a database called `a=b` is taken literally, and no
 * psql meta-command (`\connect`) is needed to reach it.
 */
export function pgDbnameConninfo(db: string): string {
  return `dbname='${db.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** A table as the engine names it: `db`.`table` (MySQL) or db.schema.table (PostgreSQL). */
export interface TableName {
  db: string;
  /** PostgreSQL's schema; a MySQL database is its own schema. */
  schema: string | undefined;
  table: string;
}

/** The table in SQL, qualified and quoted (without the database for PostgreSQL: one per session). */
export function tableInSql(engine: DbEngine, t: TableName): string {
  if (engine !== 'postgres') return `${quoteMysqlIdent(t.db)}.${quoteMysqlIdent(t.table)}`;
  return t.schema === undefined
    ? quotePgIdent(t.table)
    : `${quotePgIdent(t.schema)}.${quotePgIdent(t.table)}`;
}

/**
 * A table for messages and as a map key: each part bare when it is a plain name, quoted by the
 * engine's rules otherwise, so different tables never read the same (`a.b`.`c` ≠ `a`.`b.c`).
 */
export function tableLabel(engine: DbEngine, t: TableName): string {
  const parts = engine === 'postgres' ? [t.db, t.schema, t.table] : [t.db, t.table];
  return parts
    .filter((p): p is string => p !== undefined)
    .map((p) => labelPart(engine, p))
    .join('.');
}

/** A database name for messages, by the same rule. */
export function databaseLabel(engine: DbEngine, db: string): string {
  return labelPart(engine, db);
}

function labelPart(engine: DbEngine, name: string): string {
  if (engine === 'postgres') return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quotePgIdent(name);
  return /^[A-Za-z0-9_$]+$/.test(name) ? name : quoteMysqlIdent(name);
}

/**
 * Reads a possibly qualified PostgreSQL name (`public."Order Items"`) at `from`: parts separated
 * by dots, each a double-quoted identifier (`""` inside) or a bare word as pg_dump writes it
 * (already lower case). Returns the parts and where the name ends, or undefined.
 */
export function readPgQualifiedName(
  text: string,
  from: number,
): { parts: string[]; end: number } | undefined {
  const parts: string[] = [];
  let i = from;
  for (;;) {
    if (text[i] === '"') {
      let part = '';
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close === -1) return undefined;
        part += text.slice(i, close);
        if (text[close + 1] === '"') {
          part += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      parts.push(part);
    } else {
      const m = /^[^\s."(),;]+/.exec(text.slice(i, i + 256));
      if (!m) return undefined;
      parts.push(m[0]);
      i += m[0].length;
    }
    if (text[i] !== '.') return { parts, end: i };
    i++;
  }
}

/**
 * The database a psql `\connect` line of pg_dump/pg_dumpall selects, or undefined when the line
 * is something else. pg_dump writes a plain name bare or double-quoted, and any other name as
 * `\connect -reuse-previous=on "dbname='…'"`: a connection string (single quotes, `\` escapes)
 * inside psql's double quotes (`""` for a quote).
 */
export function psqlConnectTarget(line: string): string | undefined {
  const m = /^\\(?:connect|c) +(?:-reuse-previous=on +)?/.exec(line);
  if (!m) return undefined;
  let arg: string;
  let quoted = false;
  const rest = line.slice(m[0].length);
  if (rest.startsWith('"')) {
    const name = readPgQualifiedName(rest, 0);
    if (name?.parts.length !== 1) return undefined;
    arg = name.parts[0] as string;
    quoted = true;
  } else {
    arg = /^\S+/.exec(rest)?.[0] ?? '';
  }
  if (!arg) return undefined;
  // A bare or quoted word without `=` is the database name itself; with it, a connection string.
  if (!arg.includes('=')) return quoted || !arg.startsWith('-') ? arg : undefined;
  return conninfoValue(arg, 'dbname');
}

/** One key's value from a libpq `key=value` connection string (single quotes, `\` escapes). */
export function conninfoValue(conninfo: string, key: string): string | undefined {
  let i = 0;
  const s = conninfo;
  while (i < s.length) {
    while (s[i] === ' ') i++;
    const eq = s.indexOf('=', i);
    if (eq === -1) return undefined;
    const k = s.slice(i, eq).trim();
    i = eq + 1;
    while (s[i] === ' ') i++;
    let value = '';
    if (s[i] === "'") {
      i++;
      for (;;) {
        const c = s[i];
        if (c === undefined) return undefined;
        if (c === '\\' && i + 1 < s.length) {
          value += s[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < s.length && s[i] !== ' ') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
    }
    if (k === key) return value;
  }
  return undefined;
}

/** A backticked MySQL name as mysqldump writes it, doubled backticks undone. */
export function unquoteMysqlIdent(quoted: string): string {
  return quoted.replaceAll('``', '`');
}
