// Recovery windows of a database from its dumps and archived logs; the point-in-time plan for a restore.
import type { DatabaseAsset } from '../../domain/assets.js';
import { formatSpan } from '../../domain/duration.js';
import type { Inventory } from '../../domain/inventory.js';
import {
  type ChainGap,
  isWalSegment,
  logChains,
  type PitrBase,
  type PitrLog,
  type PitrPlan,
  planPointInTime,
  type RecoveryWindow,
  recoveryWindows,
} from '../../domain/pitr.js';
import { ErrorCode, userError } from '../../errors.js';
import type { EngineDeps } from '../deps.js';
import { archivePass, lastPass, liveTarget } from './archiver.js';
import { binlogProblem, binlogSettings } from './mysql-binlog.js';
import { slotName, slotRetainedBytes, walProblem, walSettings } from './pg-wal.js';

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/** How many of an asset's dumps are weighed as bases (the logs reach back to the oldest kept). */
const MAX_BASES = 10_000;

/** The note that names the newest base backup a deep verify replayed (PostgreSQL). */
export const verifiedBaseNote = (asset: string) => `pitr.base.verified.${asset}`;

/**
 * What a replay of an asset can start from: its physical base backups when it is a PostgreSQL
 * database (its archived logs are WAL segments, or it has bases), else its complete dumps.
 */
export function basesOf(deps: Pick<EngineDeps, 'store'>, asset: string, logs?: PitrLog[]): PitrBase[] {
  const physical = deps.store.pitrBases(asset).filter((b) => b.status === 'complete');
  if (physical.length || (logs ?? deps.store.pitrLogs(asset)).some((l) => isWalSegment(l.name))) {
    const verified = deps.store.getNote(verifiedBaseNote(asset));
    const verifiedAt = physical.find((b) => b.key === verified)?.lastAt;
    return physical.map((b) => ({
      setId: b.key,
      createdAt: b.lastAt,
      deepVerified: verifiedAt !== undefined && b.lastAt <= verifiedAt,
      startSeq: b.seq,
    }));
  }
  return deps.store
    .artifactsBefore(asset, new Date('9999-12-31T00:00:00Z'), MAX_BASES)
    .map((a) => ({ setId: a.setId, createdAt: a.setTime, deepVerified: a.deepVerified }));
}

export interface PitrState {
  windows: RecoveryWindow[];
  gaps: ChainGap[];
  /** The newest archived log's last event. */
  newestLogAt: Date | undefined;
  logs: number;
}

export function pitrState(deps: Pick<EngineDeps, 'store'>, asset: string): PitrState {
  const logs = deps.store.pitrLogs(asset);
  const { gaps } = logChains(logs);
  const complete = logs.filter((l) => l.status === 'complete');
  const newest = complete.reduce<Date | undefined>(
    (m, l) => (m === undefined || l.lastAt > m ? l.lastAt : m),
    undefined,
  );
  return {
    windows: recoveryWindows(logs, basesOf(deps, asset, logs)),
    gaps,
    newestLogAt: newest,
    logs: logs.length,
  };
}

/** `from … to …` of each window, for messages. */
export function describeWindows(windows: RecoveryWindow[]): string {
  return windows.length
    ? windows.map((w) => `${stamp(w.from)} to ${stamp(w.to)}`).join(', and ')
    : 'none (no dump or base backup is extended by an unbroken chain of archived logs yet)';
}

/** A gap in the chain, named: which logs are missing between which. */
export function describeGap(g: ChainGap): string {
  const between =
    g.after && g.before
      ? ` between ${g.after.name} (to ${stamp(g.after.lastAt)}) and ${g.before.name} (from ${stamp(g.before.firstAt)})`
      : g.after
        ? ` after ${g.after.name}`
        : g.before
          ? ` before ${g.before.name}`
          : '';
  return `missing ${g.missing.join(', ')}${between}`;
}

/**
 * The point-in-time plan for restoring `asset` to `to`, or a refusal naming the recovery
 * window (nothing is touched: this runs in assess).
 */
export function planFor(deps: Pick<EngineDeps, 'store'>, asset: string, to: Date): PitrPlan {
  const logs = deps.store.pitrLogs(asset);
  const plan = planPointInTime(logs, basesOf(deps, asset, logs), to);
  if (plan) return plan;
  const state = pitrState(deps, asset);
  throw userError(
    ErrorCode.NO_USABLE_SET,
    `--to ${stamp(to)} is outside the recovery window of ${asset}: restorable to any second from ${describeWindows(state.windows)}${state.gaps.length ? `; the log chain has gaps (${state.gaps.map(describeGap).join('; ')})` : ''}`,
  );
}

/**
 * `status` lines for each point-in-time database: its recovery window and the age of its
 * newest log, or the exact setting to change when the server cannot be archived.
 */
export async function pitrStatusLines(deps: EngineDeps, inventory: Inventory): Promise<string[]> {
  const now = deps.clock.now();
  const lines: string[] = [];
  for (const a of inventory.assets) {
    if (a.kind !== 'database' || !a.policy.protected || a.policy.pitrMs === undefined) continue;
    const problem = await prerequisiteProblem(deps, a);
    if (problem) {
      lines.push(`  ${a.name}: no point-in-time recovery: ${problem}; its RPO is measured on dumps`);
      continue;
    }
    // Without the scheduler's passes (a terminal, cron), status archives what is due first.
    const previous = lastPass(deps, a.name);
    if (!previous || now.getTime() - previous.at.getTime() > a.policy.pitrMs) await archivePass(deps, a);
    const state = pitrState(deps, a.name);
    const newest = state.windows.at(-1);
    const age = state.newestLogAt
      ? `newest log ${formatSpan(now.getTime() - state.newestLogAt.getTime())} old`
      : 'no log archived yet';
    lines.push(
      newest
        ? `  ${a.name}: restorable to any second from ${stamp(newest.from)} to ${stamp(newest.to)}, ${age} (pitr ${formatSpan(a.policy.pitrMs)})`
        : `  ${a.name}: no recovery window yet (${age}; ${a.engine === 'postgres' ? 'a base backup' : 'a dump'} and the logs after it are needed)`,
    );
    for (const g of state.gaps) lines.push(`    gap in the log chain: ${describeGap(g)}`);
    if (a.engine === 'postgres') {
      // The slot keeps WAL on the server until drbot has it: a disk filling there shows here.
      const slot = slotName(a.name);
      const held = await liveTarget(deps, a)
        .then((t) => slotRetainedBytes(t, slot))
        .catch(() => undefined);
      if (held !== undefined)
        lines.push(
          `    replication slot ${slot} keeps ${(held / 1048576).toFixed(1)} MiB of WAL on the server`,
        );
    }
    const pass = lastPass(deps, a.name);
    if (pass?.error) lines.push(`    last archive pass failed at ${stamp(pass.at)}: ${pass.error}`);
  }
  return lines;
}

/**
 * Why a database cannot have point-in-time recovery, as the setting to change; undefined when
 * it can. Asks the live server; when it cannot be asked, the archiver's last finding is used.
 */
export async function prerequisiteProblem(deps: EngineDeps, db: DatabaseAsset): Promise<string | undefined> {
  try {
    const t = await liveTarget(deps, db);
    if (db.engine === 'postgres') return walProblem(db.container, db.user, await walSettings(t));
    return binlogProblem(db.container, await binlogSettings(t));
  } catch {
    return lastPass(deps, db.name)?.problem;
  }
}

/**
 * The latest time a database can be restored to, counting only deep-verified dumps as bases:
 * the end of the newest window such a dump starts. Undefined without one (its RPO is then
 * measured on dumps alone).
 */
export function recoverablePoint(deps: Pick<EngineDeps, 'store'>, asset: string): Date | undefined {
  const logs = deps.store.pitrLogs(asset);
  const verified = basesOf(deps, asset, logs).filter((b) => b.deepVerified);
  if (!verified.length) return undefined;
  return recoveryWindows(logs, verified).at(-1)?.to;
}

/**
 * `policy` lines: the `pitr` interval of each tier that has one, and each of its databases
 * that cannot be archived, with the exact setting to change.
 */
export async function pitrPolicyLines(deps: EngineDeps, inventory: Inventory): Promise<string[]> {
  const tiers = [...deps.config.tierMap.values()].filter((t) => t.pitrMs !== undefined);
  if (!tiers.length) return [];
  const lines = [
    `point-in-time recovery (pitr): ${tiers.map((t) => `${t.name} ${formatSpan(t.pitrMs as number)}`).join(', ')} — binary logs (WAL for PostgreSQL) archived continuously, at most that late`,
  ];
  for (const a of inventory.assets) {
    if (a.kind !== 'database' || !a.policy.protected || a.policy.pitrMs === undefined) continue;
    const problem = await prerequisiteProblem(deps, a);
    lines.push(`  ${a.name}: ${problem ? `FLAGGED: ${problem}; its RPO is measured on dumps` : 'ok'}`);
  }
  return lines;
}
