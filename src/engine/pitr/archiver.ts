// Archives a MySQL/MariaDB server's closed binary logs to every target, and prunes them with the dumps.
import type { DatabaseAsset } from '../../domain/assets.js';
import { logKey, logSequence, type PitrLog } from '../../domain/pitr.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import { databasePassword } from '../backup/sources.js';
import type { DbTarget } from '../db/types.js';
import type { EngineDeps } from '../deps.js';
import { BinlogEvents } from './binlog-events.js';
import {
  type BinlogSettings,
  binlogProblem,
  binlogSettings,
  flushAndList,
  readServerLog,
  type ServerLog,
  tail,
} from './mysql-binlog.js';
import { pgPass } from './pg-archiver.js';
import { encrypting, shipEverywhere, storedRecord } from './ship.js';

/** What an archive pass needs to know of a database. */
export type PitrDatabase = Pick<DatabaseAsset, 'name' | 'engine' | 'container' | 'user' | 'passwordEnv'>;

export async function liveTarget(deps: EngineDeps, db: PitrDatabase): Promise<DbTarget> {
  const password = await databasePassword(deps.runtime, db);
  return {
    runtime: deps.runtime,
    container: db.container,
    engine: db.engine,
    user: db.user,
    password,
    asset: db.name,
  };
}

/** What one archive pass did. */
export interface ArchivePass {
  asset: string;
  at: Date;
  /** Logs archived by this pass. */
  archived: PitrLog[];
  /** Logs deleted because no kept dump needs them. */
  pruned: number;
  /** Why the server cannot be archived (a setting to change); nothing was done. */
  problem?: string;
  /** Why the pass failed (the server unreachable, a target failing). */
  error?: string;
}

export const passNote = (asset: string) => `pitr.pass.${asset}`;

/**
 * One pass for a database: close the current log (`FLUSH BINARY LOGS`), ship every closed
 * log not archived yet (read from the server's log directory, gzipped, hashed, to every target
 * at once, each copy confirmed), then delete logs older than the oldest dump kept. Its outcome
 * is kept in the state file for `status` and the RPO monitor.
 */
export function archivePass(deps: EngineDeps, db: PitrDatabase): Promise<ArchivePass> {
  // One pass per database at a time in this process (the scheduler's and a restore's catch-up).
  const key = `${db.name}\u0000${db.container}`;
  const next = (passes.get(key) ?? Promise.resolve()).then(() => onePass(deps, db));
  const settled = next.catch(() => undefined);
  passes.set(key, settled);
  void settled.then(() => {
    if (passes.get(key) === settled) passes.delete(key);
  });
  return next;
}

const passes = new Map<string, Promise<unknown>>();

async function onePass(deps: EngineDeps, db: PitrDatabase): Promise<ArchivePass> {
  const pass: ArchivePass = { asset: db.name, at: deps.clock.now(), archived: [], pruned: 0 };
  try {
    if (db.engine === 'postgres') {
      await pgPass(deps, db, pass);
      return pass;
    }
    const t = await liveTarget(deps, db);
    const settings = await binlogSettings(t);
    const problem = binlogProblem(db.container, settings);
    if (problem) {
      pass.problem = problem;
      return pass;
    }
    const logs = await flushAndList(t);
    const closed = logs.slice(0, -1);
    const known = deps.store.pitrLogs(db.name);
    const knownMax = Math.max(0, ...known.map((l) => l.seq));
    const serverMax = Math.max(0, ...logs.map((l) => logSequence(l.name) ?? 0));
    // A server whose numbering restarted (re-created) has all its closed logs shipped again;
    // keys carry each log's first event time, so nothing is overwritten.
    const restarted = serverMax < knownMax;
    const keys = new Set(known.map((l) => l.key));
    // The first pass starts where the logs can matter: a server may keep gigabytes of old logs.
    const from = known.length ? undefined : await firstNeeded(deps, t, settings, db.name, closed);
    for (const log of closed) {
      const seq = logSequence(log.name);
      if (seq === undefined || (!restarted && seq <= knownMax)) continue;
      if (from !== undefined && seq < from) continue;
      const firstAt = await firstEventAt(t, settings, log.name);
      if (keys.has(logKey(db.name, log.name, firstAt)) || keys.has(logKey(db.name, log.name, firstAt, true)))
        continue;
      pass.archived.push(await shipLog(deps, t, settings, log.name, log.size, firstAt));
    }
    pass.pruned = await pruneLogs(deps, db.name);
  } catch (err) {
    pass.error = describeError(err);
    deps.log.warn({ asset: db.name, err: pass.error }, 'archiving binary logs failed');
  } finally {
    deps.store.setNote(
      passNote(db.name),
      JSON.stringify({
        at: pass.at.toISOString(),
        ...(pass.problem ? { problem: pass.problem } : {}),
        ...(pass.error ? { error: pass.error } : {}),
      }),
    );
  }
  return pass;
}

/** The last pass's outcome as kept in the state file. */
export function lastPass(
  deps: Pick<EngineDeps, 'store'>,
  asset: string,
): { at: Date; problem?: string; error?: string } | undefined {
  const text = deps.store.getNote(passNote(asset));
  if (!text) return undefined;
  const v = JSON.parse(text) as { at: string; problem?: string; error?: string };
  return { ...v, at: new Date(v.at) };
}

/**
 * On the first pass for a database: the sequence number of the oldest closed log still needed,
 * the oldest one last written at or after the oldest dump kept (a replay never starts earlier),
 * or only the newest closed log when there is no dump yet.
 */
async function firstNeeded(
  deps: EngineDeps,
  t: DbTarget,
  settings: BinlogSettings,
  asset: string,
  closed: ServerLog[],
): Promise<number | undefined> {
  const newest = logSequence(closed.at(-1)?.name ?? '');
  const oldest = deps.store.artifactsBefore(asset, new Date('9999-12-31T00:00:00Z'), 1)[0];
  if (!oldest) return newest;
  const dir = settings.basename.slice(0, settings.basename.lastIndexOf('/') + 1) || '/var/lib/mysql/';
  for (const log of closed) {
    const res = await t.runtime.exec(t.container, { cmd: ['stat', '-c', '%Y', '--', `${dir}${log.name}`] });
    const written = Number(res.stdout.trim()) * 1000;
    // A log whose age cannot be read is shipped: too much beats a gap.
    if (res.exitCode !== 0 || !Number.isFinite(written) || written >= oldest.setTime.getTime() - 1000)
      return logSequence(log.name);
  }
  return newest;
}

/** The first event's time of a log on the server (its format description), for its key. */
async function firstEventAt(t: DbTarget, settings: BinlogSettings, name: string): Promise<Date> {
  const head = await readServerLog(t, settings, name, 64);
  const chunks: Buffer[] = [];
  for await (const c of head.stream as AsyncIterable<Buffer>) chunks.push(c);
  const res = await head.done;
  const buf = Buffer.concat(chunks);
  if (res.exitCode !== 0 || buf.length < 8 || buf.readUInt32BE(0) !== 0xfe62696e)
    throw externalError(
      ErrorCode.ARCHIVE_FAILED,
      `cannot read binary log ${name} in ${t.container} (exit ${res.exitCode})`,
      { asset: t.asset, step: 'pitr', stderrTail: tail(res) },
    );
  return new Date(buf.readUInt32LE(4) * 1000);
}

async function shipLog(
  deps: EngineDeps,
  t: DbTarget,
  settings: BinlogSettings,
  name: string,
  size: number,
  firstAt: Date,
): Promise<PitrLog> {
  // With recipients, logs are encrypted like the dumps they extend: they hold the same rows.
  const key = logKey(t.asset, name, firstAt, encrypting(deps));
  const events = new BinlogEvents();
  const stored = await shipEverywhere(deps, {
    asset: t.asset,
    key,
    sizeHint: size,
    source: await readServerLog(t, settings, name),
    what: `reading ${name} in ${t.container}`,
    inspect: events,
  });
  const log = storedRecord(
    deps,
    {
      asset: t.asset,
      name,
      seq: logSequence(name) ?? 0,
      key,
      firstAt: new Date((events.firstAt ?? firstAt.getTime() / 1000) * 1000),
      lastAt: new Date((events.lastAt ?? firstAt.getTime() / 1000) * 1000),
      rawSize: events.events ? size : 0,
    },
    stored,
  );
  deps.store.savePitrLog(log);
  deps.log.info({ asset: t.asset, log: name, key, bytes: stored.bytes }, 'binary log archived');
  return log;
}

/**
 * Deletes, on every target, the logs that end before the oldest complete dump of the asset
 * still kept: no restore can start early enough to need them. Without any dump, nothing goes.
 */
export async function pruneLogs(deps: EngineDeps, asset: string): Promise<number> {
  const oldest = deps.store.artifactsBefore(asset, new Date('9999-12-31T00:00:00Z'), 1)[0];
  if (!oldest) return 0;
  const cutoff = oldest.setTime.getTime() - 1000;
  let pruned = 0;
  for (const log of deps.store.pitrLogs(asset)) {
    if (log.lastAt.getTime() >= cutoff) continue;
    await Promise.all(deps.targets.map((t) => t.delete(log.key)));
    deps.store.markPitrLog(asset, log.key, 'pruned');
    pruned++;
  }
  return pruned;
}
