// Replays archived binary logs into a MySQL/MariaDB server, from a dump's position up to a point in time.
import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { type PitrLog, sqlDatetime } from '../../domain/pitr.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { DbTarget } from '../db/types.js';
import type { EngineDeps } from '../deps.js';
import { decrypterFor, isEncrypted, loadIdentity } from '../streams/age.js';
import { HashCounter, hashStream } from '../streams/streams.js';
import { BinlogEvents } from './binlog-events.js';
import { binlogTool, passwordEnv, sqlClient, tail } from './mysql-binlog.js';

/** Where a dump's data ends in the binary logs (`--master-data=2`'s CHANGE MASTER line). */
/**
 * The stage that decrypts an archived log stored as an age file (`.gz.age`), between the
 * stored bytes (hashed as stored) and gunzip; undefined for a plain `.gz`. Without an identity
 * it fails saying what is missing, before any byte is read.
 */
export async function decryptStage(
  deps: Pick<EngineDeps, 'config' | 'env'>,
  key: string,
  what: string,
): Promise<Duplex | undefined> {
  if (!isEncrypted(key)) return undefined;
  const identity = await loadIdentity(deps.config, what, deps.env ?? process.env);
  return (await decrypterFor(deps.config.encryption.tool, identity))().stream;
}

/** The stored bytes of a log, hashed, decrypted if need be, gunzipped, into `events`. */
export async function readLog(
  deps: Pick<EngineDeps, 'config' | 'env'>,
  key: string,
  stored: Readable,
  hasher: HashCounter,
  events: Writable,
  what: string,
): Promise<void> {
  const decrypt = await decryptStage(deps, key, what);
  await (decrypt
    ? pipeline(stored, hasher, decrypt, createGunzip(), events)
    : pipeline(stored, hasher, createGunzip(), events));
}

export interface BinlogPosition {
  file: string;
  position: number;
}

export interface ReplayResult {
  /** Logs replayed, in order. */
  replayed: string[];
  /** Time of the last change (commit or statement) replayed. */
  lastChangeAt: Date | undefined;
  /** The stop time was reached inside the logs (else they ended before it). */
  reachedStop: boolean;
}

/** The targets holding a confirmed copy of a log, in configured order. */
export function logTargets(deps: Pick<EngineDeps, 'targets'>, log: PitrLog): BackupTarget[] {
  return deps.targets.filter((t) => log.targets.includes(t.name));
}

/**
 * Reads every log from a target holding it and compares its sha256, before anything live is
 * touched. Returns the problems, each naming the log.
 */
export async function checkLogs(deps: EngineDeps, logs: PitrLog[]): Promise<string[]> {
  const problems: string[] = [];
  for (const log of logs) {
    const reasons: string[] = [];
    let ok = false;
    for (const target of logTargets(deps, log)) {
      try {
        const got = await hashStream(await target.read(log.key));
        if (got.sha256 === log.sha256 && got.bytes === log.size) {
          ok = true;
          break;
        }
        reasons.push(`${target.name}: sha256 ${got.sha256.slice(0, 12)}… differs`);
      } catch (err) {
        reasons.push(`${target.name}: ${describeError(err)}`);
      }
    }
    if (!ok) problems.push(`${log.name} (${log.key}): ${reasons.join('; ') || 'no target holds a copy'}`);
  }
  return problems;
}

/**
 * Replays `logs` (one unbroken chain) into the server from `start` (the base dump's position)
 * and stops before the first event stamped at or after `stopAt`: each log is read from a
 * target holding it, hashed, gunzipped, cut at the start position and the stop time, decoded
 * by the server's own `mariadb-binlog`/`mysqlbinlog --stop-datetime` and fed to its client.
 * The password goes through the exec environment.
 */
export async function replayLogs(
  deps: EngineDeps,
  t: DbTarget,
  input: { logs: PitrLog[]; start: BinlogPosition; stopAt: Date | undefined },
): Promise<ReplayResult> {
  const first = input.logs.findIndex((l) => l.name === input.start.file);
  if (first < 0)
    throw externalError(
      ErrorCode.RESTORE_FAILED,
      `the base dump ends at ${input.start.file}:${input.start.position}, which is not among the archived logs planned (${input.logs.map((l) => l.name).join(', ') || 'none'})`,
      { asset: t.asset, step: 'replay' },
    );
  const tool = await binlogTool(t);
  const client = await sqlClient(t);
  const stopSecs = input.stopAt ? Math.floor(input.stopAt.getTime() / 1000) : undefined;
  const result: ReplayResult = { replayed: [], lastChangeAt: undefined, reachedStop: false };
  for (const [i, log] of input.logs.slice(first).entries()) {
    const target = logTargets(deps, log)[0];
    if (!target)
      throw externalError(ErrorCode.RESTORE_FAILED, `no target holds ${log.name} (${log.key})`, {
        asset: t.asset,
        step: 'replay',
      });
    const stored = await target.read(log.key);
    const hasher = new HashCounter();
    const events = new BinlogEvents({
      ...(i === 0 ? { startPosition: input.start.position } : {}),
      ...(stopSecs !== undefined ? { stopAt: stopSecs } : {}),
    });
    const decode = await t.runtime.execStream(t.container, {
      cmd: [tool, ...(input.stopAt ? [`--stop-datetime=${sqlDatetime(input.stopAt)}`] : []), '-'],
      // --stop-datetime is read in the tool's time zone: UTC, as drbot gives it.
      env: ['TZ=UTC'],
      stdin: events,
    });
    const apply = await t.runtime.execStream(t.container, {
      cmd: [client, `--user=${t.user}`, '--binary-mode'],
      env: passwordEnv(t),
      stdin: decode.stdout,
    });
    apply.stdout.resume();
    const [read, decoded, applied] = await Promise.allSettled([
      readLog(deps, log.key, stored, hasher, events, 'replaying archived binary logs'),
      decode.done,
      apply.done,
    ]);
    if (read.status === 'rejected')
      throw externalError(
        ErrorCode.RESTORE_FAILED,
        `reading ${log.name} from ${target.name}: ${describeError(read.reason)}`,
        {
          asset: t.asset,
          step: 'replay',
        },
      );
    if (hasher.sha256 !== log.sha256)
      throw externalError(
        ErrorCode.CHECKSUM_MISMATCH,
        `${log.name} read from ${target.name} has sha256 ${hasher.sha256.slice(0, 12)}…, the catalog ${log.sha256.slice(0, 12)}…`,
        { asset: t.asset, step: 'replay' },
      );
    for (const [what, r] of [
      [tool, decoded],
      [client, applied],
    ] as const) {
      const res = r.status === 'fulfilled' ? r.value : undefined;
      if (res?.exitCode !== 0)
        throw externalError(
          ErrorCode.RESTORE_FAILED,
          `replaying ${log.name}: ${what} in ${t.container} ${res ? `exited ${res.exitCode}` : `failed: ${describeError((r as PromiseRejectedResult).reason)}`}`,
          { asset: t.asset, step: 'replay', ...(res ? { stderrTail: tail(res) } : {}) },
        );
    }
    result.replayed.push(log.name);
    if (events.lastChangeAt !== undefined) result.lastChangeAt = new Date(events.lastChangeAt * 1000);
    if (events.reachedStop) {
      result.reachedStop = true;
      break;
    }
  }
  return result;
}
