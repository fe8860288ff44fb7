// Where an artifact's bytes come from: a database dump through exec, or a volume's tar.
import type { Readable } from 'node:stream';
import { type Asset, type DatabaseAsset, FALLBACK_PASSWORD_ENVS } from '../../domain/assets.js';
import { ErrorCode, externalError, inContext } from '../../errors.js';
import type { ContainerRuntime, ExecResult } from '../../ports/container-runtime.js';
import { registerSecret } from '../../secrets.js';
import { binlogSettings } from '../pitr/mysql-binlog.js';

/** An asset's raw bytes as a stream, plus how to judge them once the stream has ended. */
export interface ArtifactSource {
  stream: Readable;
  /** Settles when the producer has finished; rejects with the cause if it failed. */
  finished: Promise<void>;
  /** The tool that produced it, e.g. `mariadb-dump 10.11.18-MariaDB`. */
  tool: string;
  /** Checks the raw stream's head and tail once finished; returns the engine version seen. */
  check(raw: { bytes: number; head: string; tail: string }): { engineVersion: string | undefined };
}

/** Exit codes with which a container runtime says the program does not exist. */
const NOT_FOUND_EXIT = new Set([126, 127]);

/** The password lives in the container's own environment; it goes only into the exec's env. */
export async function databasePassword(
  runtime: ContainerRuntime,
  db: Pick<DatabaseAsset, 'name' | 'engine' | 'container' | 'user' | 'passwordEnv'>,
): Promise<string> {
  for (const key of [db.passwordEnv, ...FALLBACK_PASSWORD_ENVS[db.engine]]) {
    const value = await runtime.containerEnv(db.container, key);
    if (value) {
      registerSecret(value);
      return value;
    }
  }
  throw externalError(
    ErrorCode.SECRET_MISSING,
    `container ${db.container} has no ${db.passwordEnv} in its environment; set passwordEnv for database ${db.name} to the variable that holds the ${db.user} password`,
    { asset: db.name, step: 'dump' },
  );
}

async function firstAvailable(
  runtime: ContainerRuntime,
  db: DatabaseAsset,
  candidates: string[],
): Promise<{ tool: string; version: string }> {
  const tried: string[] = [];
  for (const tool of candidates) {
    let res: ExecResult & { stdout: string };
    try {
      res = await runtime.exec(db.container, { cmd: [tool, '--version'] });
    } catch (err) {
      throw inContext(err, db.name, 'dump');
    }
    if (res.exitCode === 0) return { tool, version: res.stdout.trim() };
    tried.push(`${tool} (exit ${res.exitCode}${NOT_FOUND_EXIT.has(res.exitCode) ? ', not found' : ''})`);
  }
  throw externalError(
    ErrorCode.DUMP_EXIT_NONZERO,
    `no dump tool works in container ${db.container}: tried ${tried.join(', ')}`,
    {
      asset: db.name,
      step: 'dump',
    },
  );
}

/** What every MySQL/MariaDB dump gets besides the user (the benchmark runs the same). */
export const MYSQL_DUMP_ARGS = [
  '--single-transaction',
  '--routines',
  '--triggers',
  '--events',
  '--all-databases',
  '--hex-blob',
];

/** What every PostgreSQL dump gets besides the tool and the user. */
export const PG_DUMP_ARGS = ['--no-password', '--clean', '--if-exists'];

/**
 * A logical dump through `docker exec` with an argv array. The password goes through the exec's
 * environment (`MYSQL_PWD` / `PGPASSWORD`), never argv.
 */
export async function databaseSource(runtime: ContainerRuntime, db: DatabaseAsset): Promise<ArtifactSource> {
  const password = await databasePassword(runtime, db);
  const postgres = db.engine === 'postgres';
  const candidates = postgres
    ? ['pg_dumpall']
    : db.engine === 'mariadb'
      ? ['mariadb-dump', 'mysqldump']
      : ['mysqldump', 'mariadb-dump'];
  const { tool, version } = await firstAvailable(runtime, db, candidates);
  const cmd = postgres
    ? [tool, '--username', db.user, ...PG_DUMP_ARGS]
    : [tool, `--user=${db.user}`, ...MYSQL_DUMP_ARGS, ...(await binlogPositionArgs(runtime, db, password))];
  const env = postgres ? [`PGPASSWORD=${password}`] : [`MYSQL_PWD=${password}`];
  const exec = await runtime.execStream(db.container, { cmd, env });
  const finished = exec.done.then((res) => {
    if (res.exitCode !== 0) {
      throw externalError(
        ErrorCode.DUMP_EXIT_NONZERO,
        `${tool} in container ${db.container} exited with code ${res.exitCode}`,
        {
          asset: db.name,
          step: 'dump',
          stderrTail: lastLines(res.stderrTail),
        },
      );
    }
  });
  finished.catch(() => undefined);
  return {
    stream: exec.stdout,
    finished,
    tool: version,
    check: ({ bytes, head, tail }) => {
      // The dump tools end with a completion line; a dump cut short (container stopped, tool
      // killed) lacks it even if the pipe closed cleanly.
      const marker = postgres ? 'PostgreSQL database cluster dump complete' : '-- Dump completed';
      if (!tail.includes(marker)) {
        throw externalError(
          ErrorCode.DUMP_INCOMPLETE,
          `${tool} output (${bytes} bytes) does not end with "${marker}": the dump is truncated`,
          {
            asset: db.name,
            step: 'dump',
          },
        );
      }
      if (bytes < 512) {
        throw externalError(
          ErrorCode.DUMP_INCOMPLETE,
          `${tool} produced only ${bytes} bytes: nothing but a header`,
          { asset: db.name, step: 'dump' },
        );
      }
      const m = postgres
        ? /Dumped from database version (\S+)/.exec(head)
        : /Server version\s+(\S+)/.exec(head);
      return { engineVersion: m?.[1] ? `${db.engine} ${m[1]}` : undefined };
    },
  };
}

/**
 * Point-in-time recovery replays binary logs from where a dump ends: with binary logging on,
 * a database whose tier has `pitr` is dumped with `--master-data=2`, which writes that position
 * into the dump as a comment. Without binary logging the option would fail the dump: none then.
 */
async function binlogPositionArgs(
  runtime: ContainerRuntime,
  db: DatabaseAsset,
  password: string,
): Promise<string[]> {
  if (db.policy.pitrMs === undefined) return [];
  const t = { runtime, container: db.container, engine: db.engine, user: db.user, password, asset: db.name };
  const settings = await binlogSettings(t).catch(() => undefined);
  return settings?.logBin ? ['--master-data=2'] : [];
}

/** A volume's content as a tar stream through the engine's archive API. */
export async function volumeSource(
  runtime: ContainerRuntime,
  asset: Asset & { kind: 'volume' },
): Promise<ArtifactSource> {
  const { stream, done } = await runtime.exportVolume(asset.volume);
  return {
    stream,
    finished: done,
    tool: 'docker archive API',
    check: ({ bytes }) => {
      // A tar always has at least its two 512-byte end blocks.
      if (bytes < 1024) {
        throw externalError(
          ErrorCode.ARCHIVE_FAILED,
          `archive of volume ${asset.volume} is ${bytes} bytes: not a complete tar`,
          {
            asset: asset.name,
            step: 'archive',
          },
        );
      }
      return { engineVersion: undefined };
    },
  };
}

export function sourceFor(runtime: ContainerRuntime, asset: Asset): Promise<ArtifactSource> {
  return asset.kind === 'database' ? databaseSource(runtime, asset) : volumeSource(runtime, asset);
}

function lastLines(text: string, n = 8): string {
  return text.trim().split('\n').slice(-n).join('\n');
}
