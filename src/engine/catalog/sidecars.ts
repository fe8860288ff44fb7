// What a backup set says about the host (its manifest's `host`) and drbot's state snapshot beside it.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Asset } from '../../domain/assets.js';
import { describeError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import { captureHostSpec } from '../backup/host-capture.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { compressorFor } from '../streams/compressor.js';
import { FanOut, HashCounter } from '../streams/streams.js';
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

/** Uploads a snapshot of the state beside the set, keeping the newest few on each target. */
export async function uploadStateSnapshot(
  deps: EngineDeps,
  setId: string,
  targets: BackupTarget[],
  inMemoryMax = SNAPSHOT_IN_MEMORY_MAX,
): Promise<StateSnapshotRef> {
  const key = stateSnapshotKey(setId);
  const small = deps.store.sizeBytes() <= inMemoryMax;
  if (!small) {
    // A large state is copied and uploaded at most once per LARGE_SNAPSHOT_EVERY_MS: the set
    // refers to the newest one, and a rebuild adds the sets since from their manifests.
    const recent = recentSnapshot(deps);
    if (
      recent &&
      (await Promise.all(targets.map((t) => t.list(recent.key)))).every((k) => k.includes(recent.key))
    )
      return { key: recent.key, size: recent.size, sha256: recent.sha256 };
  }
  const ref = small ? await putInMemory(deps, key, targets) : await streamFromCopy(deps, key, targets);
  deps.store.setNote(LAST_SNAPSHOT_NOTE, JSON.stringify({ ...ref, at: deps.clock.now().toISOString() }));
  // Older snapshots are superseded: keep a few, in case the newest cannot be read.
  await Promise.all(
    targets.map(async (t) => {
      const keys = (await t.list(STATE_PREFIX)).filter((k) => k.endsWith('.sqlite.gz')).sort();
      for (const old of keys.slice(0, Math.max(0, keys.length - STATE_SNAPSHOTS_KEPT)))
        await t.delete(old).catch(() => undefined);
    }),
  );
  return ref;
}

/**
 * States up to this size are snapshotted in memory (in a worker thread), so a backup uses no
 * temporary disk; larger ones (a catalog of hundreds of thousands of sets) are copied beside
 * the state file and streamed from there, as SQLite cannot serialise more than 2 GiB at once.
 */
export const SNAPSHOT_IN_MEMORY_MAX = 256 * 2 ** 20;
/** How often a state too large for memory is uploaded again (copying it takes minutes). */
export const LARGE_SNAPSHOT_EVERY_MS = 60 * 60_000;
const LAST_SNAPSHOT_NOTE = 'state.snapshot.last';

/** The last snapshot uploaded, if it is recent enough to stand for this set too. */
function recentSnapshot(deps: EngineDeps): StateSnapshotRef | undefined {
  const text = deps.store.getNote(LAST_SNAPSHOT_NOTE);
  if (!text) return undefined;
  const last = JSON.parse(text) as StateSnapshotRef & { at: string };
  const age = deps.clock.now().getTime() - new Date(last.at).getTime();
  return age >= 0 && age < LARGE_SNAPSHOT_EVERY_MS
    ? { key: last.key, size: last.size, sha256: last.sha256 }
    : undefined;
}

async function putInMemory(
  deps: EngineDeps,
  key: string,
  targets: BackupTarget[],
): Promise<StateSnapshotRef> {
  const { body, sha256 } = await deps.store.snapshotCompressed();
  await Promise.all(targets.map((t) => t.put(key, body)));
  return { key, size: body.length, sha256 };
}

async function streamFromCopy(
  deps: EngineDeps,
  key: string,
  targets: BackupTarget[],
): Promise<StateSnapshotRef> {
  const copy = await deps.store.snapshotFile();
  try {
    const opened = await Promise.allSettled(targets.map((t) => t.write(key)));
    const writes = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const refused = opened.find((o) => o.status === 'rejected');
    try {
      if (refused) throw refused.reason;
      const hasher = new HashCounter();
      // The backups' own compressor (igzip when installed): gigabytes, off the event loop.
      const { compressor, compressionLevel } = deps.config.backup;
      const compression = (await compressorFor(compressor, compressionLevel))();
      await pipeline(
        createReadStream(copy.file),
        compression.stream,
        hasher,
        new FanOut(writes.map((w, i) => ({ name: (targets[i] as BackupTarget).name, stream: w.stream }))),
      );
      await compression.done;
      await Promise.all(writes.map((w) => w.commit()));
      return { key, size: hasher.bytes, sha256: hasher.sha256 };
    } catch (err) {
      await Promise.all(writes.map((w) => w.abort(err as Error).catch(() => undefined)));
      throw err;
    }
  } finally {
    await copy.remove();
  }
}
