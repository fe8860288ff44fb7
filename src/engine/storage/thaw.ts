// Before a restore reads a copy: an artifact the lifecycle moved to an archive class is restored first.
import { parseSpan } from '../../domain/duration.js';
import { artifactKey } from '../../domain/layout.js';
import { describeError } from '../../errors.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { s3Targets } from './storage.js';

/** How long a run waits for an archived copy when the target's config does not say. */
const DEFAULT_MAX_WAIT_MS = 48 * 60 * 60_000;

/**
 * Makes the copy of `artifact` on `targetName` readable when it sits in GLACIER or DEEP_ARCHIVE:
 * the target starts S3's restore, the run tells the channel the expected wait, and this returns
 * once the copy can be read. At the deadline (`archiveRestore.maxWait`) it warns and returns: the
 * read that follows fails on that copy, the next copy is tried, and with none the run stops
 * before anything live is touched.
 */
export async function thawCopy(
  deps: Pick<EngineDeps, 'config' | 'targets' | 'clock'>,
  ctx: Pick<RunContext, 'info' | 'warn'>,
  set: SetRecord,
  artifact: ArtifactRecord,
  targetName: string,
): Promise<void> {
  const target = deps.targets.find((t) => t.name === targetName);
  if (!target?.thaw) return;
  const config = s3Targets(deps.config).find((t) => t.name === targetName)?.config;
  const maxWait = config?.archiveRestore?.maxWait;
  const waitMs = (maxWait && parseSpan(maxWait)) || DEFAULT_MAX_WAIT_MS;
  const key = artifactKey(set.id, set.createdAt, artifact.file);
  try {
    await target.thaw(key, {
      deadline: new Date(deps.clock.now().getTime() + waitMs),
      notify: (message) =>
        ctx.info(`${artifact.asset}: ${targetName}: ${message}`, { asset: artifact.asset }),
    });
  } catch (err) {
    ctx.warn(`${artifact.asset}: ${targetName}: ${describeError(err)}`, { asset: artifact.asset });
  }
}
