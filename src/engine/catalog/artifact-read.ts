// Opening an artifact for reading from a target that holds a confirmed copy.
import type { Readable } from 'node:stream';
import { artifactKey } from '../../domain/layout.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import type { EngineDeps } from '../deps.js';

/** The targets holding a confirmed copy of an artifact, in configured order (local first). */
export function targetsWith(deps: EngineDeps, artifact: ArtifactRecord): BackupTarget[] {
  const confirmed = new Set(artifact.locations.filter((l) => l.status === 'confirmed').map((l) => l.target));
  return deps.targets.filter((t) => confirmed.has(t.name));
}

/** Opens an artifact from the first target that can serve it; names every failure otherwise. */
export async function openArtifact(
  deps: EngineDeps,
  set: SetRecord,
  artifact: ArtifactRecord,
  only?: BackupTarget,
): Promise<{ target: BackupTarget; key: string; stream: Readable }> {
  const key = artifactKey(set.id, set.createdAt, artifact.file);
  const candidates = only ? [only] : targetsWith(deps, artifact);
  const failures: string[] = [];
  for (const target of candidates) {
    try {
      return { target, key, stream: await target.read(key) };
    } catch (err) {
      failures.push(`${target.name}: ${describeError(err)}`);
    }
  }
  throw externalError(
    ErrorCode.NO_USABLE_SET,
    candidates.length
      ? `cannot read ${key} from any target (${failures.join('; ')})`
      : `no target holds a confirmed copy of ${key}`,
    { asset: artifact.asset, step: 'read' },
  );
}
