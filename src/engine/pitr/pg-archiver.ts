// Archives a PostgreSQL server's WAL (pg_receivewal through a replication slot) and its physical base backups.
import { Transform, type TransformCallback } from 'node:stream';
import { baseKey, type PitrLog, walKey, walSequence } from '../../domain/pitr.js';
import { describeError } from '../../errors.js';
import type { DbTarget } from '../db/types.js';
import type { EngineDeps } from '../deps.js';
import type { ArchivePass, PitrDatabase } from './archiver.js';
import { liveTarget } from './archiver.js';
import {
  baseBackupStream,
  dropSegments,
  ensureSlot,
  nudgeWal,
  readSegment,
  receiveDir,
  receiveWal,
  slotName,
  switchWal,
  type WalSettings,
  walPosition,
  walProblem,
  walSettings,
} from './pg-wal.js';
import { encrypting, shipEverywhere, storedRecord } from './ship.js';

/** How long one `pg_receivewal` may take to fetch what a pass closed. */
const RECEIVE_TIMEOUT_S = 600;
const FAR_FUTURE = new Date('9999-12-31T00:00:00Z');

/**
 * One pass for a PostgreSQL database: makes sure its replication slot exists (the server keeps
 * WAL until drbot has it), takes a physical base backup when none is newer than its newest
 * dump, closes the current segment (`pg_switch_wal()`), streams the WAL up to there with the
 * server's `pg_receivewal`, ships each complete segment not archived yet to every target, and
 * prunes what no kept dump needs. Each segment's key carries the span of time of the pass that
 * shipped it: every change before the switch is in the segments shipped by then.
 */
export async function pgPass(deps: EngineDeps, db: PitrDatabase, pass: ArchivePass): Promise<void> {
  const t = await liveTarget(deps, db);
  const settings = await walSettings(t);
  const problem = walProblem(db.container, db.user, settings);
  if (problem) {
    pass.problem = problem;
    return;
  }
  const slot = slotName(db.name);
  await ensureSlot(t, slot);
  // An empty receive directory: pg_receivewal is pointed at the segment being written now, so
  // the next receive starts there whatever the server's version (a base backup follows).
  const entries = await t.runtime.exec(t.container, { cmd: ['ls', '-1', '--', receiveDir(slot)] });
  if (entries.exitCode !== 0 || !entries.stdout.trim()) {
    const now = await walPosition(t);
    await nudgeWal(t);
    await receiveWal(t, slot, now.lsn, RECEIVE_TIMEOUT_S);
  }
  // A base backup that fails does not stop the WAL: the pass goes on and reports it.
  const base = await baseIfDue(deps, t, settings).catch((err: unknown) => {
    pass.error = `the base backup failed: ${describeError(err)}`;
    deps.log.warn({ asset: db.name, err: pass.error }, 'PostgreSQL base backup failed');
    return undefined;
  });
  const closed = await switchWal(t, settings.segmentBytes);
  const received = await receiveWal(t, slot, closed.end, RECEIVE_TIMEOUT_S);
  const known = deps.store.pitrLogs(db.name);
  const knownMax = Math.max(0, ...known.map((l) => l.seq));
  const seqOf = (name: string) => walSequence(name, settings.segmentBytes) ?? 0;
  // A server whose WAL restarted (re-initialised) has its segments shipped again; their keys
  // carry the pass's time, so nothing is overwritten.
  const restarted = received.length > 0 && Math.max(...received.map(seqOf)) < knownMax;
  const previous = known
    .filter((l) => l.status === 'complete')
    .reduce<Date | undefined>((m, l) => (m === undefined || l.lastAt > m ? l.lastAt : m), undefined);
  const firstAt = (!restarted && previous) || base?.firstAt || closed.at;
  for (const name of received) {
    const seq = seqOf(name);
    if (!restarted && seq <= knownMax) continue;
    const key = walKey(db.name, name, firstAt, closed.at, encrypting(deps));
    const stored = await shipEverywhere(deps, {
      asset: db.name,
      key,
      sizeHint: settings.segmentBytes,
      source: await readSegment(t, slot, name),
      what: `reading WAL segment ${name} in ${t.container}`,
    });
    const log = storedRecord(
      deps,
      { asset: db.name, name, seq, key, firstAt, lastAt: closed.at, rawSize: settings.segmentBytes },
      stored,
    );
    deps.store.savePitrLog(log);
    pass.archived.push(log);
    deps.log.info({ asset: db.name, segment: name, key, bytes: stored.bytes }, 'WAL segment archived');
  }
  // The newest complete segment stays: pg_receivewal carries on after the files it finds.
  await dropSegments(t, slot, received.slice(0, -1));
  pass.pruned = await prunePg(deps, db.name);
}

/** Counts the bytes of a stream going through it. */
class ByteCount extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/**
 * A physical base backup (`pg_basebackup`, tar on stdout) to every target when the database has
 * none that began after its newest complete dump: bases follow the dumps' schedule. Recorded
 * with the segment its replay starts in (at or before the backup's checkpoint) and the time it
 * became consistent (when it finished).
 */
async function baseIfDue(deps: EngineDeps, t: DbTarget, settings: WalSettings): Promise<PitrLog | undefined> {
  const newestBase = deps.store
    .pitrBases(t.asset)
    .filter((b) => b.status === 'complete')
    .at(-1);
  const newestDump = deps.store.newestSets().get(t.asset);
  if (newestBase && (!newestDump || newestBase.firstAt >= newestDump.createdAt)) return undefined;
  const start = await walPosition(t);
  const counter = new ByteCount();
  const key = baseKey(t.asset, start.segment, start.at, encrypting(deps));
  const stored = await shipEverywhere(deps, {
    asset: t.asset,
    key,
    sizeHint: deps.store.newestArtifactSize(t.asset) ?? 0,
    source: await baseBackupStream(t),
    what: `pg_basebackup in ${t.container}`,
    inspect: counter,
  });
  const end = await walPosition(t);
  const base = storedRecord(
    deps,
    {
      asset: t.asset,
      name: start.segment,
      seq: walSequence(start.segment, settings.segmentBytes) ?? 0,
      key,
      firstAt: start.at,
      lastAt: end.at,
      rawSize: counter.bytes,
    },
    stored,
  );
  deps.store.savePitrLog(base);
  deps.log.info(
    { asset: t.asset, key: base.key, bytes: stored.bytes, from: start.segment },
    'PostgreSQL base backup archived',
  );
  return base;
}

/**
 * Deletes, on every target, the base backups no kept dump's time needs (older than the newest
 * base at or before the oldest dump kept; the newest base always stays) and the WAL segments
 * before the oldest base kept. Without any dump, nothing goes.
 */
export async function prunePg(deps: EngineDeps, asset: string): Promise<number> {
  const oldest = deps.store.artifactsBefore(asset, FAR_FUTURE, 1)[0];
  if (!oldest) return 0;
  const bases = deps.store.pitrBases(asset).filter((b) => b.status === 'complete');
  const cover = bases.filter((b) => b.lastAt <= oldest.setTime).at(-1) ?? bases[0];
  if (!cover) return 0;
  let pruned = 0;
  const drop = async (l: PitrLog) => {
    await Promise.all(deps.targets.map((x) => x.delete(l.key)));
    deps.store.markPitrLog(asset, l.key, 'pruned');
    pruned++;
  };
  for (const b of bases) if (b.lastAt < cover.lastAt) await drop(b);
  for (const l of deps.store.pitrLogs(asset))
    if (l.seq < cover.seq && l.lastAt < cover.firstAt) await drop(l);
  return pruned;
}
