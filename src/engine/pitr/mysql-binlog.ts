// What drbot asks a MySQL/MariaDB server about its binary logs, through the server's own client.
import type { Readable } from 'node:stream';
import { ErrorCode, externalError } from '../../errors.js';
import type { ExecResult } from '../../ports/container-runtime.js';
import type { DbTarget } from '../db/types.js';

/** The server settings point-in-time recovery needs. */
export interface BinlogSettings {
  logBin: boolean;
  format: string;
  /** Path and name stem of the log files, e.g. `/var/lib/mysql/mysql-bin`. */
  basename: string;
}

export interface ServerLog {
  name: string;
  size: number;
}

const clients = new WeakMap<object, Map<string, string>>();

/** The first of `candidates` that runs in the container (cached per runtime and container). */
async function pick(t: DbTarget, kind: string, candidates: string[]): Promise<string> {
  const cache = clients.get(t.runtime) ?? new Map<string, string>();
  clients.set(t.runtime, cache);
  const key = `${t.container}\u0000${kind}`;
  const known = cache.get(key);
  if (known) return known;
  for (const c of candidates) {
    const res = await t.runtime.exec(t.container, { cmd: [c, '--version'] });
    if (res.exitCode === 0) {
      cache.set(key, c);
      return c;
    }
  }
  throw externalError(
    ErrorCode.RESTORE_FAILED,
    `no ${kind} (${candidates.join(', ')}) in container ${t.container}`,
    { asset: t.asset, step: 'pitr' },
  );
}

export const sqlClient = (t: DbTarget) => pick(t, 'SQL client', ['mariadb', 'mysql']);
export const binlogTool = (t: DbTarget) => pick(t, 'binlog reader', ['mariadb-binlog', 'mysqlbinlog']);

/** The password goes through the exec environment, never argv. */
export const passwordEnv = (t: DbTarget) => [`MYSQL_PWD=${t.password}`];

/** Runs fixed SQL (never built from input) and returns its tab-separated rows. */
export async function query(t: DbTarget, sql: string): Promise<string[][]> {
  const client = await sqlClient(t);
  const res = await t.runtime.exec(t.container, {
    cmd: [client, `--user=${t.user}`, '--batch', '--skip-column-names', '-e', sql],
    env: passwordEnv(t),
  });
  if (res.exitCode !== 0)
    throw externalError(
      ErrorCode.DOCKER_FAILED,
      `${client} in ${t.container} failed (exit ${res.exitCode}) running ${sql.split(/\s+/).slice(0, 3).join(' ')}`,
      { asset: t.asset, step: 'pitr', stderrTail: tail(res) },
    );
  return res.stdout
    .split('\n')
    .filter((l) => l.length)
    .map((l) => l.split('\t'));
}

export async function binlogSettings(t: DbTarget): Promise<BinlogSettings> {
  const [row] = await query(t, 'SELECT @@log_bin, @@binlog_format, IFNULL(@@log_bin_basename, "")');
  return { logBin: row?.[0] === '1', format: row?.[1] ?? '', basename: row?.[2] ?? '' };
}

/**
 * What keeps a server from point-in-time recovery, as the exact setting to change; undefined
 * when binary logging is on in ROW or MIXED format.
 */
export function binlogProblem(container: string, s: BinlogSettings): string | undefined {
  if (!s.logBin)
    return `binary logging is off on ${container}: start the server with log_bin (e.g. \`log_bin = mysql-bin\` and \`binlog_format = ROW\` under [mysqld] in its config, or --log-bin=mysql-bin --binlog-format=ROW)`;
  if (s.format !== 'ROW' && s.format !== 'MIXED')
    return `binlog_format is ${s.format} on ${container}: set binlog_format = ROW (or MIXED)`;
  return undefined;
}

/** Closes the current log (FLUSH BINARY LOGS) and lists the server's logs; the last one is open. */
export async function flushAndList(t: DbTarget): Promise<ServerLog[]> {
  const rows = await query(t, 'FLUSH BINARY LOGS; SHOW BINARY LOGS');
  return rows.flatMap(([name, size]) =>
    name && size && /^\d+$/.test(size) ? [{ name, size: Number(size) }] : [],
  );
}

/** A log file's bytes, read from the server's own log directory inside the container. */
export async function readServerLog(
  t: DbTarget,
  settings: BinlogSettings,
  name: string,
  bytes?: number,
): Promise<{ stream: Readable; done: Promise<ExecResult> }> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw externalError(ErrorCode.ARCHIVE_FAILED, `unexpected binary log name '${name}'`, {
      asset: t.asset,
      step: 'pitr',
    });
  const dir = settings.basename.slice(0, settings.basename.lastIndexOf('/') + 1) || '/var/lib/mysql/';
  const path = `${dir}${name}`;
  const exec = await t.runtime.execStream(t.container, {
    cmd: bytes === undefined ? ['cat', '--', path] : ['head', '-c', String(bytes), '--', path],
  });
  return { stream: exec.stdout, done: exec.done };
}

export function tail(res: ExecResult): string {
  return res.stderrTail.trim().split('\n').slice(-6).join('\n');
}
