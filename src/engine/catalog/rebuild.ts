// Rebuilds the catalog from what the targets hold: the newest state snapshot, then every newer manifest.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { SET_ID_PATTERN, setDirectory } from '../../domain/layout.js';
import { describeError, ErrorCode, userError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactLocation } from '../../ports/state-store.js';
import type { EngineDeps } from '../deps.js';
import {
  MANIFEST_FILE,
  type Manifest,
  parseSums,
  readManifest,
  readText,
  type StateSnapshotRef,
  SUMS_FILE,
} from './manifest.js';

export interface RebuildReport {
  /** Targets read, and those that could not be listed with why. */
  read: string[];
  unreachable: string[];
  /** The set whose state snapshot was loaded, with how many runs and sets it brought. */
  snapshot: { setId: string; target: string; runs: number; sets: number } | undefined;
  /** Sets added from their manifests (not in the snapshot). */
  added: string[];
  /** Sets left out, with the reason (manifest unreadable, checksums disagree …). */
  skipped: string[];
  /** Copies whose presence changed (gone from a target since the catalog last saw them). */
  reconciled: number;
}

const MANIFEST_KEY = /^(\d{4}\/\d{2}\/\d{2}\/(set-[^/]+))\/manifest\.json$/;

/** The target named by `--source`, or a clear error naming the allowed ones. */
export function targetNamed(deps: Pick<EngineDeps, 'targets'>, name: string): BackupTarget {
  const t = deps.targets.find((x) => x.name === name);
  if (!t)
    throw userError(
      ErrorCode.USAGE,
      `unknown target '${name}'; allowed: ${deps.targets.map((x) => x.name).join(', ')}`,
    );
  return t;
}

interface Found {
  setId: string;
  dir: string;
  /** Per target that lists the set: its keys below the set's directory. */
  holders: Map<BackupTarget, Set<string>>;
}

/**
 * Reads every target (or only `source`): lists the sets, loads the newest state snapshot when
 * the catalog is empty (runs, timelines, postmortems, verification results come back), then
 * adds each set it lacks from its manifest, checked against SHA256SUMS. Finally each target's
 * copies are reconciled with what it actually holds, so a restore reads from a target that has
 * the file. Never deletes anything from a target.
 */
export async function rebuildCatalog(
  deps: EngineDeps,
  options: { source?: string } = {},
): Promise<RebuildReport> {
  const targets = options.source ? [targetNamed(deps, options.source)] : deps.targets;
  const report: RebuildReport = {
    read: [],
    unreachable: [],
    snapshot: undefined,
    added: [],
    skipped: [],
    reconciled: 0,
  };
  const found = new Map<string, Found>();
  const listings = new Map<BackupTarget, Set<string>>();
  for (const t of targets) {
    let keys: string[];
    try {
      keys = await t.list('');
    } catch (err) {
      report.unreachable.push(`${t.name}: ${describeError(err)}`);
      continue;
    }
    report.read.push(t.name);
    listings.set(t, new Set(keys));
    for (const k of keys) {
      const m = MANIFEST_KEY.exec(k);
      if (!m || !SET_ID_PATTERN.test(m[2] as string)) continue;
      const setId = m[2] as string;
      const f = found.get(setId) ?? { setId, dir: m[1] as string, holders: new Map() };
      f.holders.set(t, new Set(keys.filter((x) => x.startsWith(`${f.dir}/`))));
      found.set(setId, f);
    }
  }
  // Newest first: the first readable snapshot is the newest one.
  const sets = [...found.values()].sort((a, b) => (a.setId < b.setId ? 1 : -1));
  const manifests = new Map<string, { manifest: Manifest; from: BackupTarget }>();
  for (const f of sets) {
    const read = await readChecked(f);
    if ('error' in read) report.skipped.push(`${f.setId}: ${read.error}`);
    else manifests.set(f.setId, read);
  }

  const now = deps.clock.now();
  if (deps.store.isEmpty()) {
    // The newest snapshot is the one taken last: by completion time (ids only have seconds).
    const done = (f: Found) => manifests.get(f.setId)?.manifest.completedAt ?? '';
    const byCompletion = [...sets].sort((a, b) => (done(a) < done(b) ? 1 : done(a) > done(b) ? -1 : 0));
    for (const f of byCompletion) {
      const m = manifests.get(f.setId);
      const state = m?.manifest.state;
      if (!m || !state) continue;
      // Any target that holds the snapshot will do, the one the manifest came from first.
      const holders = [m.from, ...[...listings.keys()].filter((t) => t !== m.from)].filter((t) =>
        listings.get(t)?.has(state.key),
      );
      const errors: string[] = [];
      for (const t of holders) {
        try {
          const counts = await loadSnapshot(deps, t, state, m.manifest.runId, now);
          report.snapshot = { setId: f.setId, target: t.name, ...counts };
          break;
        } catch (err) {
          errors.push(`${t.name}: ${describeError(err)}`);
        }
      }
      if (report.snapshot) break;
      if (errors.length)
        report.skipped.push(`${f.setId}: its state snapshot could not be loaded (${errors.join('; ')})`);
    }
  }
  for (const f of sets) {
    const m = manifests.get(f.setId);
    if (!m || deps.store.getSet(f.setId)) continue;
    if (setDirectory(m.manifest.setId, new Date(m.manifest.createdAt)) !== f.dir) {
      report.skipped.push(`${f.setId}: its manifest's time does not match its directory ${f.dir}`);
      continue;
    }
    if (importManifest(deps, f, m.manifest, now)) report.added.push(f.setId);
  }
  for (const [t, keys] of listings)
    report.reconciled += deps.store.reconcileLocations(t.name, (k) => keys.has(k), now);
  return report;
}

/** The set's manifest from the first target that has a readable one agreeing with its SHA256SUMS. */
async function readChecked(
  f: Found,
): Promise<{ manifest: Manifest; from: BackupTarget } | { error: string }> {
  const errors: string[] = [];
  for (const t of f.holders.keys()) {
    try {
      const manifest = await readManifest(t, f.dir);
      if (manifest.setId !== f.setId) throw new Error(`it names set ${manifest.setId}`);
      const sums = parseSums(await readText(t, `${f.dir}/${SUMS_FILE}`));
      for (const a of manifest.artifacts) {
        if (sums.get(a.file) !== a.sha256) throw new Error(`${a.file}: manifest and ${SUMS_FILE} disagree`);
      }
      return { manifest, from: t };
    } catch (err) {
      errors.push(`${t.name}: ${describeError(err)}`);
    }
  }
  return { error: `no usable ${MANIFEST_FILE} (${errors.join('; ')})` };
}

async function loadSnapshot(
  deps: EngineDeps,
  from: BackupTarget,
  state: StateSnapshotRef,
  runId: string,
  now: Date,
): Promise<{ runs: number; sets: number }> {
  const chunks: Buffer[] = [];
  for await (const c of await from.read(state.key)) chunks.push(c as Buffer);
  const gz = Buffer.concat(chunks);
  const got = createHash('sha256').update(gz).digest('hex');
  if (got !== state.sha256)
    throw new Error(`sha256 ${got.slice(0, 12)}… is not the recorded ${state.sha256.slice(0, 12)}…`);
  const tmp = await mkdtemp(join(tmpdir(), 'drbot-restore-state-'));
  try {
    const file = join(tmp, 'state.sqlite');
    await writeFile(file, await promisify(gunzip)(gz));
    // The backup run that took the snapshot was still running then; its set is complete.
    return deps.store.importSnapshot(file, now, { [runId]: 'succeeded' });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function importManifest(deps: EngineDeps, f: Found, m: Manifest, now: Date): boolean {
  const createdAt = new Date(m.createdAt);
  return deps.store.importSet({
    id: m.setId,
    runId: m.runId,
    purpose: m.purpose ?? 'backup',
    createdAt,
    completedAt: m.completedAt ? new Date(m.completedAt) : createdAt,
    artifacts: m.artifacts.map((a) => {
      const key = `${f.dir}/${a.file}`;
      const locations: ArtifactLocation[] = [...f.holders].map(([t, keys]) => ({
        target: t.name,
        key,
        status: keys.has(key) ? 'confirmed' : 'missing',
        confirmedAt: keys.has(key) ? now : undefined,
      }));
      return {
        asset: a.asset,
        kind: a.kind,
        file: a.file,
        size: a.size,
        rawSize: a.rawSize ?? undefined,
        sha256: a.sha256,
        compression: a.compression,
        engineVersion: a.engineVersion ?? undefined,
        startedAt: new Date(a.startedAt),
        endedAt: a.endedAt ? new Date(a.endedAt) : undefined,
        meta: a.meta ?? {},
        locations,
      };
    }),
  });
}
