// Deep verify of a point-in-time database: the archived logs after its dump are replayed into the scratch.
import { logChains, type PitrLog } from '../../domain/pitr.js';
import { ErrorCode, externalError } from '../../errors.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import type { DbTarget } from '../db/types.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { type BinlogPosition, checkLogs, replayLogs } from './replay.js';
import { describeGap } from './window.js';

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * After a dump was restored into scratch: reads every archived log from the dump's position to
 * the end of its chain (each copy hashed; one missing or different is marked `failed`), replays
 * them into the scratch server, and fails naming any gap in the chain after the dump, so a
 * broken chain is found before a restore needs it. Undefined when the asset has no logs.
 */
export async function replayArchivedLogs(
  deps: EngineDeps,
  ctx: RunContext,
  set: SetRecord,
  artifact: ArtifactRecord,
  t: DbTarget,
  position: BinlogPosition | undefined,
): Promise<string | undefined> {
  if (t.engine === 'postgres') return undefined;
  const asset = artifact.asset;
  const after = (l: PitrLog) => l.lastAt.getTime() >= set.createdAt.getTime() - 1000;
  const logs = deps.store.pitrLogs(asset).filter(after);
  if (!logs.length) return undefined;
  if (!position) return `no binary log position in the dump (taken without binary logging): no log replayed`;
  const start = logs
    .filter(
      (l) =>
        l.name === position.file &&
        l.status === 'complete' &&
        l.firstAt.getTime() <= set.createdAt.getTime() + 1000,
    )
    .at(-1);
  const fail = (message: string) =>
    externalError(ErrorCode.SANITY_CHECK_FAILED, message, { asset, step: 'deep-verify' });
  if (!start)
    throw fail(
      `the binary log chain after ${set.id} is broken: ${position.file}, where the dump ends, is not archived${logs.some((l) => l.name === position.file) ? ' (its copy failed)' : ''}`,
    );
  const chain = logChains(logs).chains.find((c) => c.logs.includes(start));
  const chainLogs = chain ? chain.logs.slice(chain.logs.indexOf(start)) : [start];
  // Each log is read and hashed before the replay: a copy that is gone or different is a gap.
  const problems = await checkLogs(deps, chainLogs);
  for (const p of problems) {
    const log = chainLogs.find((l) => p.startsWith(`${l.name} `));
    if (log) deps.store.markPitrLog(asset, log.key, 'failed', p.slice(log.name.length + 1));
  }
  const gaps = logChains(deps.store.pitrLogs(asset).filter(after)).gaps;
  const good = problems.length
    ? logChains(deps.store.pitrLogs(asset).filter(after)).chains.find((c) =>
        c.logs.some((l) => l.key === start.key),
      )
    : chain;
  const toReplay = good ? good.logs.slice(good.logs.findIndex((l) => l.key === start.key)) : [];
  const replay = toReplay.length
    ? await replayLogs(deps, t, { logs: toReplay, start: position, stopAt: undefined })
    : undefined;
  if (gaps.length)
    throw fail(
      `gap in the binary log chain after ${set.id}: ${gaps.map(describeGap).join('; ')}${replay ? ` (the ${replay.replayed.length} log(s) before it replay cleanly)` : ''}`,
    );
  const last = toReplay.at(-1);
  const summary = `replayed ${replay?.replayed.length ?? 0} archived binary log(s) (${toReplay[0]?.name ?? '-'}…${last?.name ?? '-'}) onto it, up to ${last ? stamp(last.lastAt) : '-'}`;
  ctx.info(`${asset}: ${summary}`, { asset });
  return summary;
}
