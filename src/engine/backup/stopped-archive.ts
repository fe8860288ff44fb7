// Archiving a volume with the containers that mount it stopped (label drbot.archive=stopped).
import type { DatabaseAsset, VolumeAsset } from '../../domain/assets.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import { loadInventory } from '../catalog/inventory.js';
import { waitForDatabase } from '../db/db-restore.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { whileStopped } from './container-gate.js';
import { databasePassword } from './sources.js';

/**
 * Runs `archive` with every running container that mounts the volume stopped, so nothing
 * writes to it while it is read (a database's data directory is consistent only then). The
 * containers are started again whatever happens — the archive or its upload failing included —
 * and a database is waited for until it answers; each one's downtime goes on the run's
 * timeline. A container that cannot be started again fails the artifact, naming it.
 */
export async function withMountersStopped<T>(
  deps: EngineDeps,
  ctx: RunContext,
  asset: VolumeAsset,
  archive: () => Promise<T>,
): Promise<T> {
  const mounters = (await deps.runtime.listContainers())
    .filter((c) => c.mounts.some((m) => m.volume === asset.volume))
    .map((c) => c.name)
    .sort();
  // In name order, so two archives that share containers cannot wait for each other.
  const gated = (i: number): Promise<T> =>
    i < mounters.length
      ? whileStopped(mounters[i] as string, () => gated(i + 1))
      : stopArchiveStart(deps, ctx, asset, mounters, archive);
  return gated(0);
}

async function stopArchiveStart<T>(
  deps: EngineDeps,
  ctx: RunContext,
  asset: VolumeAsset,
  mounters: string[],
  archive: () => Promise<T>,
): Promise<T> {
  // Read again once no dump uses them: one may have been stopped or started meanwhile.
  const running = (await deps.runtime.listContainers())
    .filter((c) => mounters.includes(c.name) && c.running)
    .map((c) => c.name);
  const stopped: Array<{ name: string; at: number }> = [];
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  try {
    for (const name of running) {
      const at = deps.clock.monotonic();
      await deps.runtime.stopContainer(name, Math.round(deps.config.ms.restoreStop / 1000));
      stopped.push({ name, at });
      ctx.info(`${asset.name}: stopped ${name} for a consistent archive (drbot.archive=stopped)`, {
        asset: asset.name,
        container: name,
      });
    }
    if (!running.length) ctx.info(`${asset.name}: no running container mounts it; archived as it is`);
    outcome = { ok: true, value: await archive() };
  } catch (err) {
    outcome = { ok: false, error: err };
  }
  const notStarted = await startAgain(deps, ctx, asset, stopped);
  if (!outcome.ok) {
    if (notStarted.length) ctx.error(`${asset.name}: not running again: ${notStarted.join('; ')}`);
    throw outcome.error;
  }
  if (notStarted.length) {
    throw externalError(
      ErrorCode.DOCKER_FAILED,
      `archived, but not running again: ${notStarted.join('; ')}; start ${notStarted.length > 1 ? 'them' : 'it'} by hand`,
      { asset: asset.name, step: 'archive' },
    );
  }
  return outcome.value;
}

/**
 * Starts what was stopped, in reverse order, each on its own (one that fails does not keep the
 * others down), waiting for databases to answer; returns what did not come back, with why.
 */
async function startAgain(
  deps: EngineDeps,
  ctx: RunContext,
  asset: VolumeAsset,
  stopped: Array<{ name: string; at: number }>,
): Promise<string[]> {
  if (!stopped.length) return [];
  const databases = await loadInventory(deps)
    .then((inv) => inv.assets.filter((a): a is DatabaseAsset => a.kind === 'database'))
    .catch(() => [] as DatabaseAsset[]);
  const failed: string[] = [];
  for (const { name, at } of [...stopped].reverse()) {
    try {
      await deps.runtime.startContainer(name);
      const db = databases.find((d) => d.container === name);
      if (db) {
        const password = await databasePassword(deps.runtime, db);
        await waitForDatabase(
          {
            runtime: deps.runtime,
            container: name,
            engine: db.engine,
            user: db.user,
            password,
            asset: db.name,
          },
          deps.clock,
          deps.config.ms.restoreReadiness,
        );
      }
      const downtimeMs = Math.round(deps.clock.monotonic() - at);
      ctx.info(
        `${asset.name}: ${name} ${db ? 'answers' : 'runs'} again after ${Math.round(downtimeMs / 100) / 10}s of downtime for the archive`,
        { asset: asset.name, container: name, downtimeMs },
      );
    } catch (err) {
      failed.push(`${name} (${describeError(err)})`);
    }
  }
  return failed;
}
