// The commands the fake runtime runs inside database containers: exactly the argv the engine sends.
import { PassThrough, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ExecOptions, ExecResult } from '../../src/ports/container-runtime.js';
import {
  type FakeData,
  type FakeEngine,
  KNOWN_PROGRAMS,
  MysqlSession,
  mysqlDump,
  PsqlSession,
  pgDumpall,
  SqlError,
  type SqlSession,
  TOOLS,
  UnknownSql,
  versionLine,
} from './fake-sql.js';

/** A database server living in a fake container. */
export interface FakeDatabase {
  engine: FakeEngine;
  /** As the server reports it (`11.4.2-MariaDB-ubu2404`, `16.4 (Debian 16.4-1.pgdg120+1)`). */
  version: string;
  user: string;
  data: FakeData;
  /** Pings answered "not ready" after each start; Infinity: the server never comes up. */
  readyAfterPings: number;
  pingsLeft: number;
}

/** What an exec needs to know about the container it runs in. */
export interface ExecContext {
  name: string;
  env: string[];
  db: FakeDatabase | undefined;
  /** The wall-clock time dumps are stamped with. */
  now: () => Date;
  /** Hears each SQL statement the fake does not know (the client still exits non-zero). */
  onUnknown: (message: string) => void;
}

/** Runs a planned exec, writing its stdout to `out` (and ending it), and returns its exit. */
export type ExecRunner = (out: PassThrough) => Promise<ExecResult>;

/** Thrown for any argv the fake does not know: the engine sent something new. */
export class UnknownCommand extends Error {}

/** Password variables each engine's image reads, first found wins. */
export const PASSWORD_ENVS: Record<FakeEngine, string[]> = {
  mariadb: ['MARIADB_ROOT_PASSWORD', 'MYSQL_ROOT_PASSWORD'],
  mysql: ['MYSQL_ROOT_PASSWORD'],
  postgres: ['POSTGRES_PASSWORD'],
};

const DUMP_FLAGS = new Set([
  '--single-transaction',
  '--routines',
  '--triggers',
  '--events',
  '--all-databases',
  '--hex-blob',
]);

const envValue = (env: string[] | undefined, key: string) =>
  env?.find((e) => e.startsWith(`${key}=`))?.slice(key.length + 1);

const exit = (exitCode: number, stderr = ''): ExecResult => ({ exitCode, stderrTail: stderr });

/**
 * Decides what an exec does before it starts, so an unknown command throws from `execStream`
 * itself, naming the argv. Only the programs and flags the engine uses are known.
 */
export function planExec(c: ExecContext, o: ExecOptions): ExecRunner {
  const [program = '', ...args] = o.cmd;
  const unknown = () => new UnknownCommand(`fake runtime: unknown command in ${c.name}: ${o.cmd.join(' ')}`);
  if (!KNOWN_PROGRAMS.has(program)) throw unknown();
  const db = c.db;
  const tools = db ? TOOLS[db.engine] : undefined;
  const installed = tools !== undefined && Object.values(tools).includes(program);
  if (args.length === 1 && args[0] === '--version') {
    return async (out) => {
      if (!installed || !db) {
        out.end();
        return exit(
          127,
          `OCI runtime exec failed: exec failed: unable to start container process: exec: "${program}": executable file not found in $PATH: unknown\n`,
        );
      }
      out.end(`${versionLine(db.engine, program, db.version)}\n`);
      return exit(0);
    };
  }
  if (!installed || !db || !tools) throw unknown();
  const mysqlFamily = db.engine !== 'postgres';

  if (program === tools.admin) {
    const ok = mysqlFamily
      ? args.length === 2 && args[1] === 'ping'
      : args.length === 2 && args[0] === '--username';
    if (!ok) throw unknown();
    const user = mysqlFamily ? userFlag(args[0]) : args[1];
    if (user === undefined) throw unknown();
    return async (out) => {
      if (db.pingsLeft > 0) {
        db.pingsLeft--;
        if (mysqlFamily) {
          out.end();
          return exit(
            1,
            `${program}: connect to server at 'localhost' failed\nerror: 'Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)'\n`,
          );
        }
        out.end('/var/run/postgresql:5432 - no response\n');
        return exit(2);
      }
      out.end(mysqlFamily ? 'mysqld is alive\n' : '/var/run/postgresql:5432 - accepting connections\n');
      return exit(0);
    };
  }

  const parsed = mysqlFamily ? parseMysqlArgs(program, args, tools) : parsePgArgs(program, args, tools);
  if (!parsed) throw unknown();
  if (parsed.kind === 'session' && !o.stdin) throw unknown();
  return async (out) => {
    const denied = authenticate(c, db, parsed.user, o.env);
    if (denied) {
      out.end();
      return denied;
    }
    if (db.pingsLeft > 0) {
      out.end();
      return mysqlFamily
        ? exit(
            1,
            "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)\n",
          )
        : exit(
            2,
            'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or directory\n',
          );
    }
    const connectTo = parsed.kind === 'dump' ? undefined : parsed.db;
    if (connectTo !== undefined && !PsqlSession.exists(db.data, connectTo)) {
      out.end();
      return exit(
        2,
        `psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "${connectTo}" does not exist\n`,
      );
    }
    const session = (): SqlSession =>
      db.engine === 'postgres'
        ? new PsqlSession(db.data, db.user, connectTo)
        : new MysqlSession(db.engine, db.data);
    if (parsed.kind === 'dump') {
      const text =
        db.engine === 'postgres'
          ? pgDumpall(db.version, db.user, db.data)
          : mysqlDump(db.engine, db.version, db.data, c.now());
      return emit(out, Buffer.from(text), program);
    }
    if (parsed.kind === 'query') {
      try {
        const lines = session().run(parsed.query);
        out.end(lines.map((l) => `${l}\n`).join(''));
        return exit(0);
      } catch (err) {
        out.end();
        if (err instanceof UnknownSql) c.onUnknown(err.message);
        if (err instanceof SqlError) return exit(1, `${err.message}\n`);
        throw err;
      }
    }
    return runSession(session(), o.stdin as Readable, out, mysqlFamily ? 1 : 3, c.onUnknown);
  };
}

type Parsed =
  | { kind: 'dump'; user: string }
  | { kind: 'query'; user: string; query: string; db?: string }
  | { kind: 'session'; user: string; db?: string };

/** `--dbname`'s value: a database name, or a libpq connection string naming one (`dbname='…'`). */
function dbnameArg(value: string): string | undefined {
  if (!value.includes('=')) return value;
  const m = /^dbname='((?:[^'\\]|\\.)*)'$/.exec(value) ?? /^dbname=(\S+)$/.exec(value);
  return m?.[1]?.replace(/\\(.)/g, '$1');
}

function userFlag(arg: string | undefined): string | undefined {
  return arg?.startsWith('--user=') ? arg.slice('--user='.length) : undefined;
}

function parseMysqlArgs(
  program: string,
  args: string[],
  tools: (typeof TOOLS)[FakeEngine],
): Parsed | undefined {
  const user = userFlag(args[0]);
  if (user === undefined) return undefined;
  const rest = args.slice(1);
  if (program === tools.dump) {
    if (!rest.includes('--all-databases') || rest.some((a) => !DUMP_FLAGS.has(a))) return undefined;
    return { kind: 'dump', user };
  }
  let query: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === '-e' && rest[i + 1] !== undefined) query = rest[++i];
    else if (
      !['--default-character-set=utf8mb4', '--batch', '--skip-column-names', '--unbuffered'].includes(a)
    )
      return undefined;
  }
  return query === undefined ? { kind: 'session', user } : { kind: 'query', user, query };
}

function parsePgArgs(program: string, args: string[], tools: (typeof TOOLS)[FakeEngine]): Parsed | undefined {
  let user: string | undefined;
  let query: string | undefined;
  let db: string | undefined;
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const next = args[i + 1];
    if (a === '--username' && next !== undefined) user = args[++i];
    else if (a === '--dbname' && next !== undefined && dbnameArg(next) !== undefined) {
      db = dbnameArg(next);
      i++;
    } else if (a === '-v' && next === 'ON_ERROR_STOP=1') i++;
    else if (a === '-F' && next === '\t') i++;
    else if (a === '-Atc' && next !== undefined) query = args[++i];
    else if (a === '-c' && next !== undefined) query = args[++i];
    else flags.push(a);
  }
  if (user === undefined) return undefined;
  if (program === tools.dump) {
    const want = ['--no-password', '--clean', '--if-exists'];
    return flags.length === want.length && want.every((f) => flags.includes(f))
      ? { kind: 'dump', user }
      : undefined;
  }
  if (flags.some((f) => !['--no-password', '--quiet', '-At'].includes(f))) return undefined;
  const on = db === undefined ? {} : { db };
  return query === undefined ? { kind: 'session', user, ...on } : { kind: 'query', user, query, ...on };
}

/** The client's answer to a wrong user or password, as the real tools word it; undefined when let in. */
function authenticate(
  c: ExecContext,
  db: FakeDatabase,
  user: string,
  env: string[] | undefined,
): ExecResult | undefined {
  const expected = PASSWORD_ENVS[db.engine].map((k) => envValue(c.env, k)).find((v) => v !== undefined);
  const given = envValue(env, db.engine === 'postgres' ? 'PGPASSWORD' : 'MYSQL_PWD');
  if (user === db.user && given !== undefined && given === expected) return undefined;
  return db.engine === 'postgres'
    ? exit(
        2,
        `psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  password authentication failed for user "${user}"\n`,
      )
    : exit(
        1,
        `ERROR 1045 (28000): Access denied for user '${user}'@'localhost' (using password: ${given ? 'YES' : 'NO'})\n`,
      );
}

/** Writes bytes with backpressure; false when the reader went away first. */
export async function writeAll(out: PassThrough, body: Buffer, chunk = 16 * 1024): Promise<boolean> {
  for (let i = 0; i < body.length; i += chunk) {
    if (out.destroyed) return false;
    if (!out.write(body.subarray(i, i + chunk)))
      await new Promise<void>((resolve) => {
        const go = () => {
          out.off('drain', go);
          out.off('close', go);
          resolve();
        };
        out.once('drain', go);
        out.once('close', go);
      });
  }
  return !out.destroyed;
}

/** A program's whole output, then its exit; a reader that goes away is a broken pipe. */
export async function emit(out: PassThrough, body: Buffer, program: string): Promise<ExecResult> {
  if (!(await writeAll(out, body))) return exit(2, `${program}: Got errno 32 on write\n`);
  out.end();
  return exit(0);
}

/** Resolves once a reader has taken all of `out`, or at once when nothing reads it. */
export async function outputRead(out: PassThrough): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (out.readableEnded || out.destroyed || out.readableFlowing !== true) return;
  await new Promise((resolve) => {
    out.once('end', resolve);
    out.once('close', resolve);
  });
}

/** A failure a test wants from one program in one container (a dump that dies, a load refused). */
export interface ExecFault {
  exitCode: number;
  stderr: string;
  /** How much of the program's real output comes out before it exits. */
  stdoutBytes?: number;
  /** How many times it fails; then the program works again. Default: always. */
  times?: number;
}

/**
 * The program failing as `fault` says: part of its real output (a dump cut short), then the
 * exit. One that reads stdin (a load) fails at once and changes nothing.
 */
export function failing(real: ExecRunner, fault: ExecFault, options: ExecOptions): ExecRunner {
  return async (out) => {
    if (options.stdin) {
      // It reads nothing more once it has failed; what is still sent goes nowhere.
      options.stdin.on('error', () => undefined);
      options.stdin.resume();
      out.end();
      return exit(fault.exitCode, fault.stderr);
    }
    let body = Buffer.alloc(0);
    if (fault.stdoutBytes) {
      const collect = new PassThrough();
      const chunks: Buffer[] = [];
      collect.on('data', (c: Buffer) => chunks.push(c));
      await real(collect);
      body = Buffer.concat(chunks).subarray(0, fault.stdoutBytes);
    }
    const written = await emit(out, body, options.cmd[0] ?? '');
    return written.exitCode === 0 ? exit(fault.exitCode, fault.stderr) : written;
  };
}

/**
 * Feeds stdin to a client session line by line as it arrives, so a statement's output (the
 * parallel loader's sync markers) comes out while more input is still to come. At the first
 * failed statement the client exits, as `mysql` and `psql -v ON_ERROR_STOP=1` do; input sent
 * after that goes nowhere.
 */
function runSession(
  session: SqlSession,
  stdin: Readable,
  out: PassThrough,
  errorExit: number,
  onUnknown: (message: string) => void,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let over = false;
    const feed = (text: string, last: boolean) => {
      pending += text;
      for (;;) {
        const nl = pending.indexOf('\n');
        if (nl < 0) break;
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        for (const l of session.line(line)) out.write(`${l}\n`);
      }
      if (last) {
        if (pending) for (const l of session.line(pending)) out.write(`${l}\n`);
        session.end();
      }
    };
    const fail = (err: unknown) => {
      over = true;
      out.end();
      if (err instanceof UnknownSql) onUnknown(err.message);
      if (err instanceof SqlError) resolve(exit(errorExit, `${err.message}\n`));
      else reject(err);
    };
    stdin.on('data', (chunk: Buffer | string) => {
      if (over) return;
      try {
        feed(typeof chunk === 'string' ? chunk : decoder.write(chunk), false);
      } catch (err) {
        fail(err);
      }
    });
    stdin.once('end', () => {
      if (over) return;
      try {
        feed(decoder.end(), true);
        over = true;
        out.end();
        resolve(exit(0));
      } catch (err) {
        fail(err);
      }
    });
    stdin.once('error', (err) => {
      if (over) return;
      over = true;
      out.end();
      reject(err);
    });
  });
}
