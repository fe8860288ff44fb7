// Deep verify of a point-in-time database: the archived logs after its dump are replayed into the scratch.
import { logChains, type PitrLog } from '../../domain/pitr.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import type { DbTarget } from '../db/types.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { withRecoveredScratch } from './pg-recover.js';
import { type BinlogPosition, checkLogs, replayLogs } from './replay.js';
import { describeGap, verifiedBaseNote } from './window.js';

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
  if (t.engine === 'postgres') return replayArchivedWal(deps, ctx, artifact);
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

/**
 * Deep verify of a PostgreSQL database with archived WAL: its newest base backup and every WAL
 * segment after it are read and hashed (a copy missing or different is marked `failed`), then
 * recovered in a scratch server from the database's own image to the end of the unbroken part
 * of the chain; a gap fails naming the missing segments. A base that replays cleanly to the
 * end counts as verified for the RPO monitor. Undefined when the asset has no base backup.
 */
async function replayArchivedWal(
  deps: EngineDeps,
  ctx: RunContext,
  artifact: ArtifactRecord,
): Promise<string | undefined> {
  const asset = artifact.asset;
  const base = deps.store
    .pitrBases(asset)
    .filter((b) => b.status === 'complete')
    .at(-1);
  if (!base) return undefined;
  const fail = (message: string) =>
    externalError(ErrorCode.SANITY_CHECK_FAILED, message, { asset, step: 'deep-verify' });
  const after = () => deps.store.pitrLogs(asset).filter((l) => l.seq >= base.seq || l.lastAt > base.lastAt);
  const problems = await checkLogs(deps, [base, ...after().filter((l) => l.status === 'complete')]);
  for (const p of problems) {
    const log = [base, ...after()].find((l) => p.startsWith(`${l.name} (${l.key})`));
    if (log) deps.store.markPitrLog(asset, log.key, 'failed', p.slice(log.name.length + 1));
  }
  if (problems.some((p) => p.startsWith(`${base.name} (${base.key})`)))
    throw fail(`the base backup ${base.key} cannot be read: ${problems.join('; ')}`);
  const { chains, gaps } = logChains(after());
  const chain = chains.find((c) => c.logs.some((l) => l.seq === base.seq));
  if (!chain)
    throw fail(
      `the WAL chain after base backup ${base.key} is broken: ${base.name}, where its replay starts, is not archived${gaps.length ? ` (${gaps.map(describeGap).join('; ')})` : ''}`,
    );
  const wal = chain.logs.filter((l) => l.seq >= base.seq);
  const source = artifact.meta.container
    ? await deps.runtime.inspectContainer(artifact.meta.container)
    : undefined;
  const image = source?.image ?? artifact.meta.image;
  if (!image) throw fail(`no image to recover ${base.key} in: ${artifact.meta.container} is gone`);
  // Any role of the cluster will do: the scratch trusts its socket.
  const user =
    artifact.meta.user || source?.env.find((e) => e.startsWith('POSTGRES_USER='))?.slice(14) || 'postgres';
  const later = gaps.filter((g) => !g.after || g.after.seq >= base.seq);
  const recovery = withRecoveredScratch(
    deps,
    ctx,
    { asset, image, user, base, wal, to: undefined },
    async (s) => s.lastChangeAt,
  );
  if (later.length) {
    // The gap is the finding; whether the segments before it recover is said beside it.
    const before = await recovery.then(
      () => `the ${wal.length} segment(s) before it recover cleanly`,
      (err: unknown) =>
        `the ${wal.length} segment(s) before it do not recover on their own: ${describeError(err)}`,
    );
    throw fail(
      `gap in the WAL chain after base backup ${base.key}: ${later.map(describeGap).join('; ')} (${before})`,
    );
  }
  const replayed = await recovery;
  deps.store.setNote(verifiedBaseNote(asset), base.key);
  const summary = `recovered base backup ${base.key} and ${wal.length} archived WAL segment(s) (${wal[0]?.name ?? '-'}…${wal.at(-1)?.name ?? '-'}) in a scratch server, to ${stamp(chain.lastAt)}${replayed ? `; last transaction at ${stamp(replayed)}` : ''}`;
  ctx.info(`${asset}: ${summary}`, { asset });
  return summary;
}
