// verify and test runs: re-read artifacts from every target, and deep-verify them in scratch.
import { artifactKey } from '../../domain/layout.js';
import type { Run, VerifyRunResult } from '../../domain/runs.js';
import { describeError, ErrorCode, toAppError, userError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import { identityFor } from '../catalog/artifact-read.js';
import { newestPerAsset } from '../catalog/catalog.js';
import { loadInventory } from '../catalog/inventory.js';
import { targetNamed } from '../catalog/rebuild.js';
import type { EngineDeps } from '../deps.js';
import { acquireDeepSlot, type DeepSlot } from '../runs/deep-limit.js';
import { combineObservers, RunContext, type RunObserver } from '../runs/run-context.js';
import { hashStream } from '../streams/streams.js';
import { deepVerifyArtifact } from './deep-verify.js';

export interface TargetCheck {
  asset: string;
  file: string;
  target: string;
  ok: boolean;
  detail: string;
  /** The bytes were read to the end and are not the ones recorded: the copy is bad, not unreachable. */
  corrupt?: boolean;
  /** When ok: the version read (see BackupTarget.readVersion), so a restore loads that very one. */
  version?: string;
}

export interface DeepCheck {
  asset: string;
  setId: string;
  ok: boolean;
  detail: string;
  ms: number;
}

export interface VerifyOutcome {
  run: Run;
  status: 'succeeded' | 'failed' | 'cancelled';
  setIds: string[];
  checks: TargetCheck[];
  deep: DeepCheck[];
  failures: string[];
}

/** `latest` or a set id → a complete set, or a user error naming what exists. */
export function resolveSet(deps: EngineDeps, ref: string): SetRecord {
  if (ref === 'latest') {
    const set = deps.store.listSets({ status: ['complete'], purpose: 'backup', limit: 1 })[0];
    if (!set)
      throw userError(ErrorCode.SET_NOT_FOUND, 'there is no complete backup set yet; run `backup` first');
    return set;
  }
  const set = deps.store.getSet(ref);
  if (!set) {
    const recent = deps.store
      .listSets({ status: ['complete'], purpose: 'backup', limit: 5 })
      .map((s) => s.id);
    throw userError(
      ErrorCode.SET_NOT_FOUND,
      `no set '${ref}'${recent.length ? `; recent complete sets: ${recent.join(', ')}` : ''}`,
    );
  }
  if (set.status !== 'complete') {
    throw userError(
      ErrorCode.SET_NOT_FOUND,
      `set ${ref} is ${set.status}${set.error ? ` (${set.error})` : ''}: only complete sets can be verified or restored`,
    );
  }
  return set;
}

/** Reads one artifact back from one target and compares size and sha256 with the catalog. */
export async function checkOnTarget(
  deps: EngineDeps,
  set: SetRecord,
  a: ArtifactRecord,
  targetName: string,
): Promise<TargetCheck> {
  const target = deps.targets.find((t) => t.name === targetName);
  const key = artifactKey(set.id, set.createdAt, a.file);
  if (!target)
    return {
      asset: a.asset,
      file: a.file,
      target: targetName,
      ok: false,
      detail: `target ${targetName} is no longer configured`,
    };
  try {
    const read = await target.readVersion(key);
    const got = await hashStream(read.stream);
    if (got.sha256 === a.sha256 && got.bytes === a.size) {
      return {
        asset: a.asset,
        file: a.file,
        target: targetName,
        ok: true,
        detail: `sha256 ${got.sha256.slice(0, 12)}… ${got.bytes} bytes`,
        version: read.version,
      };
    }
    return {
      asset: a.asset,
      file: a.file,
      target: targetName,
      ok: false,
      corrupt: true,
      detail: `checksum mismatch: ${got.bytes} bytes sha256 ${got.sha256}, expected ${a.size} bytes sha256 ${a.sha256}`,
    };
  } catch (err) {
    return { asset: a.asset, file: a.file, target: targetName, ok: false, detail: describeError(err) };
  }
}

/**
 * Keeps the catalog's view of a copy in line with a check of it: a copy whose bytes differ is
 * marked `failed` (no restore reads it again) and the artifact says why; a `failed` copy found
 * good again (repaired by hand) is confirmed again. An unreadable copy proves nothing either way.
 */
export function recordCopyCheck(
  deps: EngineDeps,
  set: SetRecord,
  a: ArtifactRecord,
  check: TargetCheck,
): void {
  const location = a.locations.find((l) => l.target === check.target);
  const key = location?.key ?? artifactKey(set.id, set.createdAt, a.file);
  if (check.corrupt) {
    deps.store.setLocation(a.id, { target: check.target, key, status: 'failed', confirmedAt: undefined });
    deps.store.updateArtifact(a.id, { verifyError: `${check.target}: ${check.detail}` });
  } else if (check.ok && location?.status === 'failed') {
    deps.store.setLocation(a.id, {
      target: check.target,
      key,
      status: 'confirmed',
      confirmedAt: deps.clock.now(),
    });
  }
}

function storedOn(a: ArtifactRecord): string[] {
  return a.locations.filter((l) => l.status === 'confirmed' || l.status === 'failed').map((l) => l.target);
}

/**
 * `verify [set|latest] [--deep]`: every artifact re-read from every target and compared with
 * the catalog; with `--deep`, each restored into scratch and checked. Results are recorded on
 * the artifacts (a deep pass is what makes a backup *verified*).
 */
export async function runVerify(
  deps: EngineDeps,
  request: {
    set: string;
    deep: boolean;
    requester: string;
    observer?: RunObserver;
    source?: string;
    /** With every deep slot taken (verify.concurrency): refuse (people) or wait (the scheduler). */
    whenBusy?: 'refuse' | 'wait';
  },
): Promise<VerifyOutcome> {
  const source = request.source ? targetNamed(deps, request.source) : undefined;
  const set = resolveSet(deps, request.set);
  return verifyArtifacts(deps, {
    ...(source ? { source } : {}),
    kind: 'verify',
    target: set.id,
    requester: request.requester,
    deep: request.deep,
    whenBusy: request.whenBusy ?? 'refuse',
    ...(request.observer ? { observer: request.observer } : {}),
    items: set.artifacts.filter((a) => a.status === 'complete').map((a) => ({ set, artifact: a })),
  });
}

/** `test`: the monthly recovery drill — deep-verify the newest complete artifact of every protected asset. */
export async function runRecoveryTest(
  deps: EngineDeps,
  request: { requester: string; observer?: RunObserver; whenBusy?: 'refuse' | 'wait' },
): Promise<VerifyOutcome> {
  const inventory = await loadInventory(deps);
  const newest = newestPerAsset(deps.store);
  const items: Array<{ set: SetRecord; artifact: ArtifactRecord }> = [];
  const missing: string[] = [];
  for (const asset of inventory.assets.filter((a) => a.policy.protected)) {
    const set = newest.get(asset.name);
    const artifact = set?.artifacts.find((a) => a.asset === asset.name && a.status === 'complete');
    if (set && artifact) items.push({ set, artifact });
    else missing.push(asset.name);
  }
  if (!items.length)
    throw userError(ErrorCode.SET_NOT_FOUND, 'nothing to test: no protected asset has a complete backup yet');
  return verifyArtifacts(deps, {
    kind: 'test',
    target: 'all',
    requester: request.requester,
    deep: true,
    whenBusy: request.whenBusy ?? 'refuse',
    items,
    missing,
    ...(request.observer ? { observer: request.observer } : {}),
  });
}

async function verifyArtifacts(
  deps: EngineDeps,
  job: {
    kind: 'verify' | 'test';
    target: string;
    requester: string;
    deep: boolean;
    whenBusy: 'refuse' | 'wait';
    items: Array<{ set: SetRecord; artifact: ArtifactRecord }>;
    missing?: string[];
    observer?: RunObserver;
    /** `--source`: check and read only this target. */
    source?: BackupTarget;
  },
): Promise<VerifyOutcome> {
  // Encrypted artifacts cannot be restored into scratch without the age identity: refused
  // before the run exists, like a busy slot, with what is missing. Checksums need no key.
  if (job.deep)
    await identityFor(
      deps,
      job.items.map((i) => i.artifact.file),
      job.kind === 'test' ? 'test' : 'verify --deep',
    );
  // Taken before the run exists: a refused request starts nothing and records nothing.
  const slot = job.deep
    ? await acquireDeepSlot(
        deps.config.verify.concurrency,
        `${job.kind} ${job.target} by ${job.requester}`,
        job.whenBusy,
      )
    : undefined;
  try {
    return await verifyRun(deps, job, slot);
  } finally {
    slot?.release();
  }
}

async function verifyRun(
  deps: EngineDeps,
  job: Parameters<typeof verifyArtifacts>[1],
  slot: DeepSlot | undefined,
): Promise<VerifyOutcome> {
  const { store, clock } = deps;
  const startedAt = clock.now();
  let run = store.createRun({
    kind: job.kind,
    requester: job.requester,
    target: job.target,
    status: 'running',
    at: startedAt,
  });
  run = store.updateRun(run.id, { startedAt });
  slot?.bind(run.id);
  const ctx = new RunContext(run, store, clock, deps.log, combineObservers(job.observer, deps.observer));
  const outcome: VerifyOutcome = {
    run,
    status: 'failed',
    setIds: [...new Set(job.items.map((i) => i.set.id))],
    checks: [],
    deep: [],
    failures: [],
  };
  for (const m of job.missing ?? []) outcome.failures.push(`${m}: no complete backup to test`);
  try {
    await ctx.stage('checksums', async () => {
      for (const { set, artifact } of job.items) {
        const checks = await Promise.all(
          (job.source ? [job.source.name] : storedOn(artifact)).map((t) =>
            checkOnTarget(deps, set, artifact, t),
          ),
        );
        outcome.checks.push(...checks);
        for (const c of checks) recordCopyCheck(deps, set, artifact, c);
        const bad = checks.filter((c) => !c.ok);
        for (const c of checks) {
          (c.ok ? ctx.info.bind(ctx) : ctx.error.bind(ctx))(
            `${c.asset} on ${c.target}: ${c.ok ? 'ok' : c.detail}`,
            { asset: c.asset, target: c.target },
          );
        }
        if (bad.length) {
          store.updateArtifact(artifact.id, {
            verifyError: bad.map((c) => `${c.target}: ${c.detail}`).join('; '),
          });
          outcome.failures.push(...bad.map((c) => `${c.asset} (${c.file}) on ${c.target}: ${c.detail}`));
        } else {
          store.updateArtifact(artifact.id, { verifiedAt: clock.now(), verifyError: '' });
        }
      }
    });
    if (job.deep) {
      await ctx.stage('deep', async () => {
        for (const { set, artifact } of job.items) {
          if (outcome.failures.some((f) => f.startsWith(`${artifact.asset} (`))) continue; // its checksum already failed
          const t0 = clock.monotonic();
          try {
            const r = await deepVerifyArtifact(deps, ctx, set, artifact, job.source);
            outcome.deep.push({
              asset: artifact.asset,
              setId: set.id,
              ok: true,
              detail: r.summary,
              ms: clock.monotonic() - t0,
            });
            store.updateArtifact(artifact.id, { deepVerifiedAt: clock.now(), verifyError: '' });
          } catch (err) {
            const detail = describeError(err);
            outcome.deep.push({
              asset: artifact.asset,
              setId: set.id,
              ok: false,
              detail,
              ms: clock.monotonic() - t0,
            });
            outcome.failures.push(`${artifact.asset}: ${detail}`);
            store.updateArtifact(artifact.id, { verifyError: detail });
            ctx.error(`${artifact.asset}: deep verify failed: ${detail}`, { asset: artifact.asset });
          }
        }
      });
    }
  } catch (err) {
    outcome.failures.push(describeError(err));
    if (toAppError(err).code === ErrorCode.CANCELLED) outcome.status = 'cancelled';
  }
  if (outcome.status !== 'cancelled') outcome.status = outcome.failures.length ? 'failed' : 'succeeded';
  const result: VerifyRunResult = {
    setIds: outcome.setIds,
    checks: outcome.checks,
    deep: outcome.deep,
    failures: outcome.failures,
  };
  run = store.updateRun(run.id, {
    status: outcome.status,
    endedAt: clock.now(),
    result,
    ...(outcome.failures.length ? { error: outcome.failures.join(' | ') } : {}),
  });
  return { ...outcome, run };
}
