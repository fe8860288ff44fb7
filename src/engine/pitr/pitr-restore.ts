// A restore to a point in time: the base and logs in assess, the logs checked in verify, the replay after the load.
import type { Asset } from '../../domain/assets.js';
import { formatSpan } from '../../domain/duration.js';
import type { Inventory } from '../../domain/inventory.js';
import { stopDatetime } from '../../domain/pitr.js';
import type { PlannedAsset, PlannedPointInTime, RestorePlan } from '../../domain/restore-plan.js';
import { describeError, ErrorCode, externalError, toAppError, userError } from '../../errors.js';
import type { SetRecord } from '../../ports/state-store.js';
import { PG_DUMP_ARGS } from '../backup/sources.js';
import { loadSessions, restoreDump } from '../db/db-restore.js';
import type { DbTarget } from '../db/types.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { archivePass } from './archiver.js';
import { tail } from './mysql-binlog.js';
import { withRecoveredScratch } from './pg-recover.js';
import { type BinlogPosition, checkLogs, replayLogs } from './replay.js';
import { planFor } from './window.js';

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * `--to` for one asset of a restore: the base set (newest complete dump before the target
 * whose log chain reaches it), the logs to replay, and the data-loss window as far as the
 * catalog knows it (the replay makes it exact). A time outside the window is refused here,
 * in assess, with the window named.
 */
export function pointInTimeFor(
  deps: EngineDeps,
  candidate: { name: string; kind: 'database' | 'volume'; asset: Asset | undefined },
  to: Date,
  sets: SetRecord[],
): { set: SetRecord; pointInTime: PlannedPointInTime; lossWindowMs: number } {
  if (candidate.kind !== 'database')
    throw userError(
      ErrorCode.USAGE,
      `--to: ${candidate.name} is a volume; a restore to a point in time covers databases with archived binary logs or WAL (restore db-only or one database)`,
    );
  const plan = planFor(deps, candidate.name, to);
  const has = (s: SetRecord) =>
    s.artifacts.some((a) => a.asset === candidate.name && a.status === 'complete');
  // PostgreSQL: the base is a physical base backup, replayed in scratch and loaded as a dump;
  // the plan still names the asset's newest dump (read and hashed by verify like any plan).
  const physical = plan.base.startSeq !== undefined;
  const set = physical
    ? (sets.find((s) => has(s) && s.createdAt <= to) ?? sets.find(has))
    : (sets.find((s) => s.id === plan.base.setId) ?? deps.store.getSet(plan.base.setId));
  if (!set)
    throw userError(
      ErrorCode.SET_NOT_FOUND,
      physical
        ? `--to: ${candidate.name} has no complete dump set, which a restore plan names besides its base backup`
        : `--to: the base ${plan.base.setId} of ${candidate.name} is not a complete set`,
    );
  // Changes up to the target's second are replayed; the last log before the one holding the
  // target says how much before it the catalog can vouch for.
  const known = plan.logs
    .filter((l) => l.lastAt.getTime() <= to.getTime())
    .reduce((m, l) => Math.max(m, l.lastAt.getTime()), plan.base.createdAt.getTime());
  return {
    set,
    pointInTime: {
      to: to.toISOString(),
      logs: plan.logs.map((l) => l.name),
      keys: [...(physical ? [plan.base.setId] : []), ...plan.logs.map((l) => l.key)],
      windowFrom: plan.window.from.toISOString(),
      windowTo: plan.window.to.toISOString(),
      ...(physical ? { base: plan.base.setId } : {}),
    },
    lossWindowMs: Math.max(0, to.getTime() - known),
  };
}

/** The line assess, the card and the CLI show for a point-in-time asset. */
export function pointInTimeNote(a: PlannedAsset): string | undefined {
  const p = a.pointInTime;
  if (!p) return undefined;
  if (p.base)
    return `${a.asset}: to ${stamp(new Date(p.to))}: base backup ${p.base}, then ${p.logs.length} archived WAL segment(s) ${p.logs[0] ?? ''}${p.logs.length > 1 ? `…${p.logs.at(-1)}` : ''} replayed up to it in a scratch server, whose dump is then loaded (window ${stamp(new Date(p.windowFrom))} to ${stamp(new Date(p.windowTo))}); data-loss window at most ${formatSpan(a.lossWindowMs)}, exact after the replay`;
  return `${a.asset}: to ${stamp(new Date(p.to))}: base ${a.setId}, then ${p.logs.length} archived log(s) ${p.logs[0] ?? ''}${p.logs.length > 1 ? `…${p.logs.at(-1)}` : ''} replayed up to it (window ${stamp(new Date(p.windowFrom))} to ${stamp(new Date(p.windowTo))}); data-loss window at most ${formatSpan(a.lossWindowMs)}, exact after the replay`;
}

/**
 * Before a restore to a point in time, the logs written since the last archive pass are
 * archived (the mistake to undo is usually minutes old). A server that cannot be reached is
 * restored from what is archived already; the timeline says so.
 */
export async function catchUpLogs(
  deps: EngineDeps,
  ctx: RunContext,
  inventory: Inventory,
  names: string[],
): Promise<void> {
  for (const a of inventory.assets) {
    if (a.kind !== 'database' || !names.includes(a.name) || a.policy.pitrMs === undefined) continue;
    const pass = await archivePass(deps, a);
    if (pass.error || pass.problem)
      ctx.warn(
        `${a.name}: could not archive the newest logs first (${pass.error ?? pass.problem}); planning from the logs archived already`,
      );
    else if (pass.archived.length)
      ctx.info(
        `${a.name}: archived ${pass.archived.length} more log(s) before planning (${pass.archived.map((l) => l.name).join(', ')})`,
      );
  }
}

/** The verify stage for point-in-time assets: every planned log is read and hashed first. */
export async function verifyPlannedLogs(deps: EngineDeps, ctx: RunContext, plan: RestorePlan): Promise<void> {
  const problems: string[] = [];
  for (const a of plan.assets) {
    const p = a.pointInTime;
    if (!p) continue;
    const logs = [...deps.store.pitrBases(a.asset), ...deps.store.pitrLogs(a.asset)].filter((l) =>
      p.keys.includes(l.key),
    );
    const missing = p.keys.filter((k) => !logs.some((l) => l.key === k));
    const found = await checkLogs(deps, logs);
    for (const bad of found) {
      const name = bad.split(' ')[0] as string;
      const log = logs.find((l) => l.name === name);
      if (log) deps.store.markPitrLog(a.asset, log.key, 'failed', bad);
    }
    problems.push(
      ...missing.map((k) => `${a.asset}: ${k} is no longer in the catalog`),
      ...found.map((f) => `${a.asset}: ${f}`),
    );
    if (!found.length && !missing.length)
      ctx.info(`${a.asset}: ${logs.length} archived log(s) read and their sha256 confirmed`, {
        asset: a.asset,
      });
  }
  if (problems.length)
    throw externalError(
      ErrorCode.CHECKSUM_MISMATCH,
      `archived logs cannot be used, nothing was touched: ${problems.join('; ')}`,
      { step: 'verify' },
    );
}

/**
 * After the base dump is loaded: replays the planned logs from the dump's binlog position up to
 * the target time, and records the exact data-loss window (target − last change replayed).
 */
export async function replayPointInTime(
  deps: EngineDeps,
  ctx: RunContext,
  t: DbTarget,
  a: PlannedAsset,
  position: BinlogPosition | undefined,
  safetySetId: string | undefined,
): Promise<void> {
  const p = a.pointInTime;
  if (!p) return;
  const undo = safetySetId
    ? `; undo ${ctx.run.id} puts back the state from before the restore (safety snapshot ${safetySetId})`
    : '';
  if (!position)
    throw externalError(
      ErrorCode.RESTORE_FAILED,
      `${a.asset}: the base dump ${a.setId} records no binary log position (it was taken without binary logging), so no log can be replayed onto it${undo}`,
      { asset: a.asset, step: 'replay' },
    );
  const logs = deps.store.pitrLogs(a.asset).filter((l) => p.keys.includes(l.key));
  const to = new Date(p.to);
  const t0 = deps.clock.monotonic();
  try {
    const r = await replayLogs(deps, t, { logs, start: position, stopAt: stopDatetime(to) });
    const last = r.lastChangeAt ?? new Date(a.setTime);
    p.lastChangeAt = last.toISOString();
    a.lossWindowMs = Math.max(0, to.getTime() - last.getTime());
    ctx.info(
      `${a.asset}: replayed ${r.replayed.length} binary log(s) (${r.replayed.join(', ')}) from ${position.file}:${position.position} to ${stamp(to)} in ${Math.round((deps.clock.monotonic() - t0) / 100) / 10}s; last change replayed at ${stamp(last)}, data-loss window ${formatSpan(a.lossWindowMs)}`,
      { asset: a.asset, lossWindowMs: a.lossWindowMs, lastChangeAt: p.lastChangeAt },
    );
  } catch (err) {
    throw externalError(ErrorCode.RESTORE_FAILED, `${describeError(err)}${undo}`, {
      cause: err instanceof Error ? err : undefined,
      asset: a.asset,
      step: 'replay',
    });
  }
}

/**
 * Why a database in `db-only --to` has no point-in-time recovery (a tier without `pitr`), as
 * the note that it is left as it is; undefined when it has it.
 */
export function withoutPointInTime(candidate: {
  name: string;
  kind: 'database' | 'volume';
  asset: Asset | undefined;
}): string | undefined {
  const a = candidate.asset;
  if (a?.kind !== 'database') return undefined;
  if (a.policy.pitrMs === undefined)
    return `${candidate.name}: its tier ${a.policy.tier} has no pitr, so no archived logs; it is left as it is`;
  return undefined;
}

/**
 * `--to` for a PostgreSQL database: its base backup and WAL are recovered up to the target in
 * a scratch server from the database's own image (the live server is not stopped and keeps its
 * timeline, its slot and its WAL stream), and that server's `pg_dumpall` is loaded into the
 * live database like any dump. Records the exact data-loss window: the target − the last
 * transaction the recovery replayed.
 */
export async function restorePgPointInTime(
  deps: EngineDeps,
  ctx: RunContext,
  live: DbTarget,
  a: PlannedAsset,
  safetySetId: string | undefined,
): Promise<string> {
  const p = a.pointInTime as PlannedPointInTime;
  const base = deps.store.pitrBases(a.asset).find((b) => b.key === p.base);
  const wal = deps.store.pitrLogs(a.asset).filter((l) => p.keys.includes(l.key));
  const undo = safetySetId
    ? `; undo ${ctx.run.id} puts back the state from before the restore (safety snapshot ${safetySetId})`
    : '';
  if (!base || wal.length !== p.logs.length)
    throw externalError(
      ErrorCode.RESTORE_FAILED,
      `${a.asset}: the base backup or WAL segments planned are no longer in the catalog; nothing was loaded`,
      { asset: a.asset, step: 'replay' },
    );
  const image = (await deps.runtime.inspectContainer(live.container))?.image;
  if (!image)
    throw externalError(
      ErrorCode.RESTORE_FAILED,
      `${a.asset}: no image to recover in: ${live.container} is gone`,
      {
        asset: a.asset,
        step: 'replay',
      },
    );
  const to = new Date(p.to);
  const t0 = deps.clock.monotonic();
  return withRecoveredScratch(
    deps,
    ctx,
    { asset: a.asset, image, user: live.user, base, wal, to },
    async (scratch) => {
      const dump = await deps.runtime.execStream(scratch.target.container, {
        cmd: ['pg_dumpall', '--username', live.user, ...PG_DUMP_ARGS],
      });
      const [loaded, dumped] = await Promise.allSettled([
        restoreDump(live, dump.stdout, {
          engineVersion: a.engineVersion,
          sessions: loadSessions(deps.config.restore.loadSessions),
        }),
        dump.done,
      ]);
      const dumpRes = dumped.status === 'fulfilled' ? dumped.value : undefined;
      if (dumpRes?.exitCode !== 0)
        throw externalError(
          ErrorCode.RESTORE_FAILED,
          `${a.asset}: pg_dumpall of the recovered scratch server ${dumpRes ? `exited ${dumpRes.exitCode}` : 'failed'}${loaded.status === 'fulfilled' ? `, and part of it may be loaded${undo}` : `; nothing more was loaded${undo}`}`,
          { asset: a.asset, step: 'restore', ...(dumpRes ? { stderrTail: tail(dumpRes) } : {}) },
        );
      if (loaded.status === 'rejected') {
        const e = toAppError(loaded.reason);
        throw externalError(e.code, `${e.message}${undo}`, { cause: e, asset: a.asset, step: 'restore' });
      }
      const last = scratch.lastChangeAt ?? base.lastAt;
      p.lastChangeAt = last.toISOString();
      a.lossWindowMs = Math.max(0, to.getTime() - last.getTime());
      const msg = `${a.asset}: recovered base backup ${base.key} with ${wal.length} WAL segment(s) to ${stamp(to)} and loaded it into ${live.container} (${loaded.value.databases.size} database(s), ${loaded.value.tables.size} table(s) with data) in ${Math.round((deps.clock.monotonic() - t0) / 100) / 10}s; last change replayed at ${stamp(last)}, data-loss window ${formatSpan(a.lossWindowMs)}`;
      ctx.info(msg, { asset: a.asset, lossWindowMs: a.lossWindowMs, lastChangeAt: p.lastChangeAt });
      return msg;
    },
  );
}
