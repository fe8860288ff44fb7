// The restore stage's steps: load a database, restore a volume through a checked staging volume.
import { createGunzip } from 'node:zlib';
import { DB_ENGINES, type DbEngine, DEFAULT_DB_USER, DEFAULT_PASSWORD_ENV } from '../../domain/assets.js';
import type { PlannedAsset } from '../../domain/restore-plan.js';
import { ErrorCode, externalError, toAppError } from '../../errors.js';
import type { SetRecord } from '../../ports/state-store.js';
import { databasePassword } from '../backup/sources.js';
import { gzipOf } from '../catalog/artifact-read.js';
import { type DbTarget, loadSessions, restoreDump, waitForDatabase } from '../db/db-restore.js';
import type { EngineDeps } from '../deps.js';
import { replayPointInTime, restorePgPointInTime } from '../pitr/pitr-restore.js';
import type { RunContext } from '../runs/run-context.js';
import { discardScratch, SCRATCH_LABEL, scratchName } from '../runs/scratch.js';
import { compareTarIndexes, indexTar } from '../streams/tar-index.js';
import { extractInto } from '../verify/deep-verify.js';
import { openVerified, type VerifiedCopy } from './verified-copy.js';

/**
 * How a planned database is reached: as its config or labels say when it is live, else as its
 * backup recorded (engine, user, password variable), else with its engine's defaults. A backup
 * too old to record its engine still shows it in its artifact kind.
 */
export function plannedDb(a: PlannedAsset): { engine: DbEngine; user: string; passwordEnv: string } {
  const engine: DbEngine =
    a.engine && (DB_ENGINES as readonly string[]).includes(a.engine)
      ? a.engine
      : a.artifactKind === 'postgres-dump'
        ? 'postgres'
        : 'mysql';
  return {
    engine,
    user: a.user ?? DEFAULT_DB_USER[engine],
    passwordEnv: a.passwordEnv ?? DEFAULT_PASSWORD_ENV[engine],
  };
}

export async function liveDbTarget(deps: EngineDeps, a: PlannedAsset): Promise<DbTarget> {
  const { engine, user, passwordEnv } = plannedDb(a);
  const password = await databasePassword(deps.runtime, {
    name: a.asset,
    engine,
    container: a.container as string,
    user,
    passwordEnv,
  });
  return { runtime: deps.runtime, container: a.container as string, engine, user, password, asset: a.asset };
}

/**
 * Loads a dump into the live database container with the server's own client, from exactly the
 * copy the verify stage hashed. The load writes into the server as it goes, so bytes that turn
 * out different at the end (a copy rewritten in place while read) fail the run loudly, naming
 * the safety snapshot that undoes it; a copy replaced before the load is refused before any byte.
 */
export async function restoreDatabase(
  deps: EngineDeps,
  ctx: RunContext,
  set: SetRecord,
  a: PlannedAsset,
  copy: VerifiedCopy,
  safetySetId: string | undefined,
): Promise<string> {
  const target = await liveDbTarget(deps, a);
  await deps.runtime.startContainer(target.container);
  await waitForDatabase(target, deps.clock, deps.config.ms.restoreReadiness);
  // PostgreSQL `--to`: its base backup and WAL, recovered in scratch, are what is loaded.
  if (a.pointInTime?.base) return restorePgPointInTime(deps, ctx, target, a, safetySetId);
  const artifact = set.artifacts.find((x) => x.asset === a.asset) as SetRecord['artifacts'][number];
  const { stream, check } = await openVerified(copy);
  // An age file is decrypted on the way; the verified bytes are still hashed before it.
  const gz = await gzipOf(deps, artifact, stream, 'restore').catch((err: unknown) => {
    stream.destroy();
    throw err;
  });
  const sql = gz.pipe(createGunzip());
  gz.once('error', (err) => sql.destroy(err));
  ctx.watchBytes(stream, { asset: a.asset, action: 'load', total: artifact.size });
  const t0 = deps.clock.monotonic();
  const contents = await restoreDump(target, sql, {
    engineVersion: a.engineVersion,
    sessions: loadSessions(deps.config.restore.loadSessions),
  });
  try {
    check();
  } catch (err) {
    const e = toAppError(err);
    throw externalError(
      e.code,
      `${e.message}; ${target.container} now holds what was loaded from them: ${safetySetId ? `undo ${ctx.run.id} puts back its state from before the restore (safety snapshot ${safetySetId})` : 'no safety snapshot was taken of it'}`,
      { cause: e, asset: a.asset, step: 'restore' },
    );
  }
  // `--to`: the archived logs carry the loaded base forward to the target time.
  if (a.pointInTime) await replayPointInTime(deps, ctx, target, a, contents.binlogPosition, safetySetId);
  const msg = `${a.asset}: loaded ${set.id}/${a.file} into ${target.container} (${contents.databases.size} database(s), ${contents.tables.size} table(s) with data) in ${Math.round((deps.clock.monotonic() - t0) / 100) / 10}s`;
  ctx.info(msg, { asset: a.asset, loadSessions: contents.sessions });
  return msg;
}

/**
 * A volume is restored into a fresh staging volume first, from exactly the copy the verify
 * stage hashed, hashed again on the way, and checked file by file; only then
 * is its content copied over the live volume (created with its recorded labels if it is
 * gone), which is checked again. Files in the live volume that the backup does not have are
 * left in place and reported: they may be newer than the backup.
 */
export async function restoreVolume(
  deps: EngineDeps,
  ctx: RunContext,
  set: SetRecord,
  a: PlannedAsset,
  verified: VerifiedCopy,
): Promise<{ summary: string; extras: string[] }> {
  const artifact = set.artifacts.find((x) => x.asset === a.asset) as SetRecord['artifacts'][number];
  const staging = scratchName(ctx.run.id, a.asset, 'restore');
  try {
    await deps.runtime.createVolume(staging, { [SCRATCH_LABEL]: ctx.run.id });
    const { stream, check } = await openVerified(verified);
    const { expected } = await extractInto(deps, set, artifact, staging, undefined, {
      stream,
      target: verified.target,
    });
    // Staged only: the live volume is not touched unless the bytes extracted are the ones verified.
    try {
      check();
    } catch (err) {
      const e = toAppError(err);
      throw externalError(e.code, `${e.message}; the live volume was not touched`, {
        cause: e,
        asset: a.asset,
        step: 'restore',
      });
    }
    const staged = await deps.runtime.exportVolume(staging);
    const [stagedIndex] = await Promise.all([indexTar(staged.stream), staged.done]);
    const stagedDiff = compareTarIndexes(expected, stagedIndex);
    if (stagedDiff.missing.length || stagedDiff.different.length) {
      throw externalError(
        ErrorCode.RESTORE_FAILED,
        `staging volume for ${a.asset} does not match the backup (${[...stagedDiff.missing, ...stagedDiff.different].slice(0, 5).join(', ')}); the live volume was not touched`,
        {
          asset: a.asset,
          step: 'restore',
        },
      );
    }
    ctx.info(`${a.asset}: staged ${expected.files} file(s) in ${staging} and checked them`, {
      asset: a.asset,
    });

    if (!(await deps.runtime.listVolumes()).some((v) => v.name === a.asset)) {
      await deps.runtime.createVolume(a.asset, a.labels ?? {});
      ctx.info(`${a.asset}: recreated the volume with labels ${JSON.stringify(a.labels ?? {})}`, {
        asset: a.asset,
      });
    }
    const copy = await deps.runtime.exportVolume(staging);
    await Promise.all([deps.runtime.importVolume(a.asset, copy.stream), copy.done]);

    const live = await deps.runtime.exportVolume(a.asset);
    const [liveIndex] = await Promise.all([indexTar(live.stream), live.done]);
    const diff = compareTarIndexes(expected, liveIndex);
    if (diff.missing.length || diff.different.length) {
      throw externalError(
        ErrorCode.RESTORE_FAILED,
        `${a.asset} does not match the backup after the copy: ${[...diff.missing, ...diff.different].slice(0, 5).join(', ')}`,
        {
          asset: a.asset,
          step: 'restore',
        },
      );
    }
    let extras = diff.extra;
    if (extras.length) {
      // Files written after the backup: they are in the safety snapshot, so the volume can be
      // made exactly what the backup holds.
      await removeExtras(deps, ctx, a.asset, extras);
      const again = await deps.runtime.exportVolume(a.asset);
      const [after] = await Promise.all([indexTar(again.stream), again.done]);
      // The whole volume again, not only the extras: an `rm` must not have taken a restored file.
      const final = compareTarIndexes(expected, after);
      if (final.missing.length || final.different.length) {
        throw externalError(
          ErrorCode.RESTORE_FAILED,
          `${a.asset} no longer matches the backup after removing files it does not have: ${[...final.missing, ...final.different].slice(0, 5).join(', ')}`,
          { asset: a.asset, step: 'restore' },
        );
      }
      extras = final.extra;
      if (extras.length) {
        ctx.warn(
          `${a.asset}: ${extras.length} file(s) not in the backup are still in the volume: ${extras.slice(0, 10).join(', ')}`,
          {
            asset: a.asset,
          },
        );
      }
    }
    const summary = `${a.asset}: ${expected.files} file(s), ${expected.bytes} bytes restored from ${set.id}, every hash equal`;
    ctx.info(summary, { asset: a.asset });
    return { summary, extras };
  } finally {
    await discardScratch(deps.runtime, ctx, 'volume', staging, 'staging volume');
  }
}

/**
 * Deletes paths from a volume with `rm` in a one-off container (argv, no shell), since the
 * archive API can add files but not remove them. Only the top-most extra paths are named.
 */
async function removeExtras(
  deps: EngineDeps,
  ctx: RunContext,
  volume: string,
  extras: string[],
): Promise<void> {
  const safe = extras.filter((p) => p && !p.startsWith('/') && !p.split('/').includes('..'));
  const sorted = [...safe].sort();
  const top = sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(`${q}/`)));
  const image = await helperImage(deps, volume);
  if (!image) {
    ctx.warn(
      `${volume}: cannot delete ${top.length} path(s) not in the backup: no image with rm to run (set docker.helperImage)`,
    );
    return;
  }
  for (let i = 0; i < top.length; i += 500) {
    const batch = top.slice(i, i + 500);
    const res = await deps.runtime.runOnce({
      image,
      entrypoint: ['rm', '-rf', '--', ...batch.map((p) => `/volume/${p}`)],
      mounts: [{ volume, target: '/volume' }],
      labels: { [SCRATCH_LABEL]: ctx.run.id },
    });
    if (res.exitCode !== 0) {
      ctx.warn(
        `${volume}: deleting paths not in the backup failed (rm exited ${res.exitCode}): ${res.stderrTail.trim().split('\n').pop() ?? ''}`,
      );
      return;
    }
  }
  ctx.info(
    `${volume}: removed ${top.length} path(s) that were not in the backup (they are in the safety snapshot): ${top.slice(0, 10).join(', ')}`,
  );
}

async function helperImage(deps: EngineDeps, volume: string): Promise<string | undefined> {
  if (deps.config.docker.helperImage) return deps.config.docker.helperImage;
  const containers = await deps.runtime.listContainers();
  return containers.find((c) => c.mounts.some((m) => m.volume === volume))?.image;
}

/** Health of a configured service: its HTTP URL answers 2xx, its command exits 0, or it runs. */
export async function serviceReady(deps: EngineDeps, container: string): Promise<string | undefined> {
  const svc = deps.config.services.find((s) => s.container === container);
  const info = await deps.runtime.inspectContainer(container);
  if (!info?.running) return `${container} is ${info?.state ?? 'missing'}`;
  if (svc?.health?.url) {
    try {
      const res = await fetch(svc.health.url, { signal: AbortSignal.timeout(5000) });
      return res.ok ? undefined : `${svc.health.url} answered ${res.status}`;
    } catch (err) {
      return `${svc.health.url}: ${(err as Error).message}`;
    }
  }
  if (svc?.health?.cmd) {
    const res = await deps.runtime.exec(container, { cmd: svc.health.cmd });
    return res.exitCode === 0
      ? undefined
      : `health command exited ${res.exitCode}: ${res.stderrTail.trim().split('\n').pop() ?? ''}`;
  }
  return undefined;
}
