import { hostname } from 'node:os';
import { setDirectory } from '../../domain/layout.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';

export const MANIFEST_FILE = 'manifest.json';
export const SUMS_FILE = 'SHA256SUMS';
export const MANIFEST_FORMAT = 'drbot.manifest/v1';

/** What `manifest.json` holds (DESIGN §2, contract). No secrets: only names, sizes, hashes, times. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  setId: string;
  runId: string;
  host: string;
  createdAt: string;
  completedAt: string | null;
  artifacts: Array<{
    asset: string;
    kind: ArtifactRecord['kind'];
    file: string;
    size: number;
    rawSize: number | null;
    sha256: string;
    compression: string;
    engineVersion: string | null;
    startedAt: string;
    endedAt: string | null;
  }>;
  /** Artifacts removed by retention since the set was written. */
  pruned: Array<{ asset: string; file: string; prunedAt: string }>;
}

export function buildManifest(set: SetRecord, completedAt: Date | undefined): Manifest {
  const live = set.artifacts.filter((a) => a.status === 'complete');
  return {
    format: MANIFEST_FORMAT,
    id: set.id,
    setId: set.id,
    runId: set.runId,
    host: hostname(),
    createdAt: set.createdAt.toISOString(),
    completedAt: completedAt?.toISOString() ?? null,
    artifacts: live.map((a) => ({
      asset: a.asset,
      kind: a.kind,
      file: a.file,
      size: a.size ?? 0,
      rawSize: a.rawSize ?? null,
      sha256: a.sha256 ?? '',
      compression: a.compression,
      engineVersion: a.engineVersion ?? null,
      startedAt: a.startedAt.toISOString(),
      endedAt: a.endedAt?.toISOString() ?? null,
    })),
    pruned: set.artifacts
      .filter((a) => a.status === 'pruned')
      .map((a) => ({ asset: a.asset, file: a.file, prunedAt: (a.prunedAt ?? new Date(0)).toISOString() })),
  };
}

/** `sha256sum -c` format: `<hex>  <file>`, run inside the set's directory. */
export function buildSums(manifest: Manifest): string {
  return manifest.artifacts.map((a) => `${a.sha256}  ${a.file}\n`).join('');
}

/** Writes SHA256SUMS, then manifest.json — the manifest last, as the mark of a finished set. */
export async function writeManifest(target: BackupTarget, set: SetRecord, manifest: Manifest): Promise<void> {
  const dir = setDirectory(set.id, set.createdAt);
  await target.put(`${dir}/${SUMS_FILE}`, buildSums(manifest));
  await target.put(`${dir}/${MANIFEST_FILE}`, `${JSON.stringify(manifest, null, 2)}\n`);
}
