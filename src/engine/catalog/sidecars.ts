// What a backup set says about the host (its manifest's `host`) and drbot's state snapshot beside it.
import type { Asset } from '../../domain/assets.js';
import { describeError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import { captureHostSpec } from '../backup/host-capture.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import type { SetDescription, StateSnapshotRef } from './manifest.js';

/** State snapshots live outside the dated set directories, so sets keep exactly their files. */
export const STATE_PREFIX = 'drbot-state/';
/** How many snapshots each target keeps; the newest is what a new host loads. */
export const STATE_SNAPSHOTS_KEPT = 3;

export const stateSnapshotKey = (setId: string) => `${STATE_PREFIX}${setId}.sqlite.gz`;

/**
 * The host spec and a consistent snapshot of the state file, for the set's manifest. Neither
 * is needed to restore the set's own artifacts, so a failure is a warning, not a failed
 * backup: the set stays restorable by hand and by drbot on a host that still exists.
 */
export async function describeSet(
  deps: EngineDeps,
  ctx: RunContext,
  input: { setId: string; assets: Asset[]; targets: BackupTarget[] },
): Promise<SetDescription> {
  const out: SetDescription = {};
  try {
    out.hostSpec = await captureHostSpec(deps, input.assets);
    ctx.info(
      `host spec recorded: ${out.hostSpec.containers.length} container(s), ${out.hostSpec.networks.length} network(s), ${out.hostSpec.volumes.length} volume(s)`,
    );
  } catch (err) {
    ctx.warn(
      `the host spec was not recorded (a bare-host restore of this set needs its containers to exist): ${describeError(err)}`,
    );
  }
  try {
    out.state = await uploadStateSnapshot(deps, input.setId, input.targets);
  } catch (err) {
    ctx.warn(`drbot's state was not snapshotted with this set: ${describeError(err)}`);
  }
  return out;
}

async function uploadStateSnapshot(
  deps: EngineDeps,
  setId: string,
  targets: BackupTarget[],
): Promise<StateSnapshotRef> {
  const { body, sha256 } = await deps.store.snapshotCompressed();
  const key = stateSnapshotKey(setId);
  await Promise.all(targets.map((t) => t.put(key, body)));
  // Older snapshots are superseded: keep a few, in case the newest cannot be read.
  await Promise.all(
    targets.map(async (t) => {
      const keys = (await t.list(STATE_PREFIX)).filter((k) => k.endsWith('.sqlite.gz')).sort();
      for (const old of keys.slice(0, Math.max(0, keys.length - STATE_SNAPSHOTS_KEPT)))
        await t.delete(old).catch(() => undefined);
    }),
  );
  return { key, size: body.length, sha256 };
}
