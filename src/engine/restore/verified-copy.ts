// The restore's verify stage: one good copy per artifact, tried copy by copy, and reading exactly it back.
import type { Readable } from 'node:stream';
import { artifactKey } from '../../domain/layout.js';
import type { PlannedAsset, RestorePlan } from '../../domain/restore-plan.js';
import { ErrorCode, externalError, toAppError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import { identityFor, requireOpens, targetsWith } from '../catalog/artifact-read.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { thawCopy } from '../storage/thaw.js';
import { HashCounter } from '../streams/streams.js';
import { checkOnTarget, recordCopyCheck } from '../verify/verify.js';

/** The copy of an artifact that passed the verify stage: the one, and the only one, a restore loads. */
export interface VerifiedCopy {
  asset: string;
  file: string;
  target: BackupTarget;
  key: string;
  /** The version hashed by the verify stage (see BackupTarget.readVersion). */
  version: string;
  sha256: string;
  size: number;
  /** Why this copy and not the planned one, when a copy before it failed. */
  reason: string | undefined;
}

/**
 * Checks each planned artifact copy by copy — the planned target first, then every other target
 * with a confirmed copy, in configured order; only the planned one with `--source` — until one
 * hashes to the catalog's sha256. A copy whose bytes differ is marked `failed` in the catalog.
 * Nothing live is touched here: with no good copy of an artifact, the run stops.
 */
export async function verifyCopies(
  deps: EngineDeps,
  ctx: RunContext,
  plan: RestorePlan,
  sets: Map<string, SetRecord>,
  pinned: boolean,
): Promise<Map<string, VerifiedCopy>> {
  const copies = new Map<string, VerifiedCopy>();
  for (const a of plan.assets) {
    const set = sets.get(a.setId) as SetRecord;
    const artifact = set.artifacts.find((x) => x.asset === a.asset) as ArtifactRecord;
    const order = pinned
      ? [a.readFrom]
      : [...new Set([a.readFrom, ...targetsWith(deps, artifact).map((t) => t.name)])];
    const failed: string[] = [];
    for (const name of order) {
      await thawCopy(deps, ctx, set, artifact, name); // an archived copy (GLACIER) is restored first
      const check = await checkOnTarget(deps, set, artifact, name);
      recordCopyCheck(deps, set, artifact, check);
      const target = deps.targets.find((t) => t.name === name);
      if (check.ok && target && check.version !== undefined) {
        const reason = failed.length ? `${failed.join('; ')}; read from ${name}` : undefined;
        ctx.info(`${a.asset}: ${check.detail} on ${name}${reason ? ` (${reason})` : ''}`, {
          asset: a.asset,
          target: name,
        });
        copies.set(a.asset, {
          asset: a.asset,
          file: a.file,
          target,
          key: artifactKey(set.id, set.createdAt, artifact.file),
          version: check.version,
          sha256: artifact.sha256 ?? '',
          size: artifact.size ?? 0,
          reason,
        });
        break;
      }
      failed.push(`${name}: ${check.detail}${check.corrupt ? ' (marked failed in the catalog)' : ''}`);
      const next = order[order.indexOf(name) + 1];
      ctx.warn(
        `${a.asset}: the copy of ${a.file} on ${name} ${check.corrupt ? 'is bad' : 'cannot be read'}: ${check.detail}${check.corrupt ? '; marked failed in the catalog' : ''}${next ? `; trying ${next}` : ''}`,
        { asset: a.asset, target: name },
      );
    }
    const copy = copies.get(a.asset);
    if (!copy) {
      throw externalError(
        ErrorCode.CHECKSUM_MISMATCH,
        `${a.file} of ${a.setId} ${failed.map((f) => `on ${f}`).join('; ')}; nothing live was touched`,
        { asset: a.asset, step: 'verify' },
      );
    }
    await requireDecryptable(deps, copy);
  }
  return copies;
}

/** An encrypted copy must open with the identity (its header) before anything live is touched. */
async function requireDecryptable(deps: EngineDeps, copy: VerifiedCopy): Promise<void> {
  const identity = await identityFor(deps, [copy.file], 'restore');
  if (!identity) return;
  const read = await copy.target.readVersion(copy.key, copy.version);
  try {
    await requireOpens(identity, copy, copy.target, read.stream, 'verify');
  } catch (err) {
    const e = toAppError(err);
    throw externalError(e.code, `${e.message}; nothing live was touched`, {
      cause: e,
      asset: copy.asset,
      step: 'verify',
    });
  }
}

/** The plan as carried out: each asset read from the copy that passed, with the reason when it moved. */
export function planAsRead(plan: RestorePlan, copies: Map<string, VerifiedCopy>): RestorePlan {
  const assets = plan.assets.map((a): PlannedAsset => {
    const copy = copies.get(a.asset);
    if (!copy || copy.target.name === a.readFrom) return a;
    return { ...a, readFrom: copy.target.name, readReason: copy.reason ?? `read from ${copy.target.name}` };
  });
  return { ...plan, assets };
}

/**
 * Opens exactly the verified version of a copy (a copy replaced since fails here, before any
 * byte) and hashes what flows out of it. `check()`, once the consumer has read to the end,
 * throws unless the bytes read are all of them and are the ones verified.
 */
export async function openVerified(copy: VerifiedCopy): Promise<{ stream: Readable; check(): void }> {
  let read: Awaited<ReturnType<BackupTarget['readVersion']>>;
  try {
    read = await copy.target.readVersion(copy.key, copy.version);
  } catch (err) {
    const e = toAppError(err, ErrorCode.RESTORE_FAILED);
    throw externalError(
      e.code,
      e.code === ErrorCode.ARTIFACT_CHANGED
        ? `${copy.file} on ${copy.target.name} changed after it was verified, so nothing of it was loaded: ${e.message}`
        : `cannot read the verified copy of ${copy.file} on ${copy.target.name}: ${e.message}`,
      { cause: e, asset: copy.asset, step: 'restore' },
    );
  }
  const hasher = new HashCounter();
  read.stream.once('error', (err) => hasher.destroy(err));
  const stream = read.stream.pipe(hasher);
  return {
    stream,
    check: () => {
      // The consumer saw the end only after every byte went through the hasher (it sits before
      // the decompressor); a consumer that stopped early leaves bytes unread and unchecked.
      const whole = hasher.writableFinished;
      if (whole && hasher.bytes === copy.size && hasher.sha256 === copy.sha256) return;
      throw externalError(
        ErrorCode.CHECKSUM_MISMATCH,
        whole
          ? `the bytes of ${copy.file} read from ${copy.target.name} are not the ones verified: ${hasher.bytes} bytes sha256 ${hasher.sha256}, verified ${copy.size} bytes sha256 ${copy.sha256}`
          : `${copy.file} from ${copy.target.name} was not read to its end (${hasher.bytes} of ${copy.size} bytes), so it cannot be shown to be the copy verified`,
        { asset: copy.asset, step: 'restore' },
      );
    },
  };
}
