// Deep verify: restore an artifact into scratch (a container or a volume) and run sanity checks.
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  DB_ENGINES,
  type DbEngine,
  DEFAULT_PASSWORD_ENV,
  FALLBACK_PASSWORD_ENVS,
} from '../../domain/assets.js';
import { ErrorCode, externalError, inContext, scrubbedError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import { registerSecret } from '../../secrets.js';
import { gzipOf, identityFor, openArtifact, requireOpens } from '../catalog/artifact-read.js';
import {
  checkRestored,
  countRestored,
  loadSessions,
  restoreDump,
  waitForDatabase,
} from '../db/db-restore.js';
import type { EngineDeps } from '../deps.js';
import { replayArchivedLogs } from '../pitr/deep-replay.js';
import type { RunContext } from '../runs/run-context.js';
import {
  discardScratch,
  SCRATCH_LABEL,
  scratchLimits,
  scratchName,
  scratchPassword,
} from '../runs/scratch.js';
import { compareTarIndexes, indexTar } from '../streams/tar-index.js';

export interface DeepResult {
  asset: string;
  summary: string;
}

/**
 * Restores one artifact into scratch — a throw-away container from the source database's own
 * image, or a throw-away volume — checks it, and removes the scratch whatever happens. Never
 * touches a live container or volume.
 */
export async function deepVerifyArtifact(
  deps: EngineDeps,
  ctx: RunContext,
  set: SetRecord,
  artifact: ArtifactRecord,
  source?: BackupTarget,
): Promise<DeepResult> {
  // Encrypted: the identity must open this very file before any scratch is made.
  const identity = await identityFor(deps, [artifact.file], 'deep verify');
  if (identity) {
    const opened = await openArtifact(deps, set, artifact, source);
    await requireOpens(identity, artifact, opened.target, opened.stream, 'deep-verify');
  }
  return artifact.kind === 'volume-tar'
    ? deepVerifyVolume(deps, ctx, set, artifact, source)
    : deepVerifyDatabase(deps, ctx, set, artifact, source);
}

async function deepVerifyDatabase(
  deps: EngineDeps,
  ctx: RunContext,
  set: SetRecord,
  artifact: ArtifactRecord,
  readFrom: BackupTarget | undefined,
): Promise<DeepResult> {
  const engine = artifact.meta.engine as DbEngine | undefined;
  if (!engine || !(DB_ENGINES as readonly string[]).includes(engine)) {
    throw externalError(
      ErrorCode.SANITY_CHECK_FAILED,
      `artifact ${artifact.file} does not record its database engine`,
      { asset: artifact.asset, step: 'deep-verify' },
    );
  }
  const source = artifact.meta.container
    ? await deps.runtime.inspectContainer(artifact.meta.container)
    : undefined;
  const image = source?.image ?? artifact.meta.image;
  if (!image) {
    throw externalError(
      ErrorCode.SANITY_CHECK_FAILED,
      `no image to start a scratch ${engine} from: container ${artifact.meta.container} is gone and the backup did not record its image`,
      {
        asset: artifact.asset,
        step: 'deep-verify',
      },
    );
  }
  const password = scratchPassword();
  const forgetPassword = registerSecret(password);
  const passwordVars = new Set([DEFAULT_PASSWORD_ENV[engine], ...FALLBACK_PASSWORD_ENVS[engine]]);
  // The source's own settings (minus its passwords) so the image initialises the same way.
  const env = (source?.env ?? []).filter(
    (e) => !passwordVars.has(e.split('=')[0] as string) && !e.startsWith('PATH='),
  );
  for (const v of passwordVars) env.push(`${v}=${password}`);
  const name = scratchName(ctx.run.id, artifact.asset, 'verify');
  const started = deps.clock.monotonic();
  try {
    await deps.runtime.runScratchContainer({
      name,
      image,
      env,
      labels: { [SCRATCH_LABEL]: ctx.run.id },
      limits: scratchLimits(deps.config),
    });
    const target = {
      runtime: deps.runtime,
      container: name,
      engine,
      // The scratch is initialised with only its superuser's password, so that is who logs in,
      // whatever (non-root) user the live database is reached as.
      user: scratchSuperuser(engine, env),
      password,
      asset: artifact.asset,
    };
    const readyMs = await waitForDatabase(target, deps.clock, deps.config.ms.verifyReadiness);
    const { stream, target: from } = await openArtifact(deps, set, artifact, readFrom);
    const gz = await gzipOf(deps, artifact, stream, 'deep verify');
    const sql = gz.pipe(createGunzip());
    gz.once('error', (err) => sql.destroy(err));
    const contents = await restoreDump(target, sql, {
      engineVersion: artifact.engineVersion,
      sessions: loadSessions(deps.config.restore.loadSessions),
    });
    const found = await countRestored(target, contents);
    const problems = checkRestored(engine, contents, found);
    if (problems.length) {
      throw externalError(
        ErrorCode.SANITY_CHECK_FAILED,
        `restored into scratch but ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`,
        {
          asset: artifact.asset,
          step: 'deep-verify',
        },
      );
    }
    const rows = [...found.rows.values()].reduce((a, b) => a + b, 0);
    // Point-in-time recovery: the archived logs after this dump replay onto it, with no gap.
    const replayed = await replayArchivedLogs(deps, ctx, set, artifact, target, contents.binlogPosition);
    const summary = `restored from ${from.name} into scratch ${engine} (ready in ${Math.round(readyMs / 100) / 10}s): ${contents.databases.size} database(s), ${contents.tables.size} table(s) with data, ${rows} rows${replayed ? `; ${replayed}` : ''}, in ${Math.round((deps.clock.monotonic() - started) / 100) / 10}s`;
    ctx.info(`${artifact.asset}: ${summary}`, { asset: artifact.asset });
    return { asset: artifact.asset, summary };
  } catch (err) {
    // The password stops being a secret below; scrub it out of the error while it still is one.
    throw scrubbedError(err);
  } finally {
    await discardScratch(deps.runtime, ctx, 'container', name);
    // Once the scratch is gone, so is the password: stop scanning every log line for it.
    forgetPassword();
  }
}

async function deepVerifyVolume(
  deps: EngineDeps,
  ctx: RunContext,
  set: SetRecord,
  artifact: ArtifactRecord,
  source: BackupTarget | undefined,
): Promise<DeepResult> {
  const name = scratchName(ctx.run.id, artifact.asset, 'verify');
  const started = deps.clock.monotonic();
  try {
    await deps.runtime.createVolume(name, { [SCRATCH_LABEL]: ctx.run.id });
    const { expected, from } = await extractInto(deps, set, artifact, name, source);
    const exported = await deps.runtime.exportVolume(name);
    const [actual] = await Promise.all([indexTar(exported.stream), exported.done]);
    const diff = compareTarIndexes(expected, actual);
    const problems = [
      ...diff.missing.slice(0, 5).map((n) => `${n} missing`),
      ...diff.different.slice(0, 5).map((n) => `${n} differs`),
      ...diff.extra.slice(0, 5).map((n) => `${n} unexpected`),
    ];
    if (problems.length) {
      throw externalError(
        ErrorCode.SANITY_CHECK_FAILED,
        `restored into a scratch volume but ${problems.join('; ')}`,
        { asset: artifact.asset, step: 'deep-verify' },
      );
    }
    const summary = `restored from ${from} into a scratch volume: ${expected.files} file(s), ${expected.bytes} bytes, every hash equal, in ${Math.round((deps.clock.monotonic() - started) / 100) / 10}s`;
    ctx.info(`${artifact.asset}: ${summary}`, { asset: artifact.asset });
    return { asset: artifact.asset, summary };
  } finally {
    await discardScratch(deps.runtime, ctx, 'volume', name);
  }
}

/**
 * Streams an artifact into a volume while indexing the archive on the way (one read); `opened`
 * when the caller already holds the stream to extract (a restore's verified copy).
 */
export async function extractInto(
  deps: EngineDeps,
  set: SetRecord,
  artifact: ArtifactRecord,
  volume: string,
  from?: BackupTarget,
  opened?: { stream: Readable; target: BackupTarget },
) {
  const { stream, target } = opened ?? (await openArtifact(deps, set, artifact, from));
  const gz = await gzipOf(deps, artifact, stream, opened ? 'restore' : 'deep verify');
  const tar = gz.pipe(createGunzip());
  gz.once('error', (err) => tar.destroy(err));
  const toIndex = new PassThrough({ highWaterMark: 1 << 20 });
  const toVolume = new PassThrough({ highWaterMark: 1 << 20 });
  tar.once('error', (err) => {
    toIndex.destroy(err);
    toVolume.destroy(err);
  });
  tar.pipe(toIndex);
  tar.pipe(toVolume);
  // Both sides must finish (or fail) before the caller may remove the volume.
  const [indexed, imported] = await Promise.allSettled([
    indexTar(toIndex),
    deps.runtime.importVolume(volume, toVolume),
  ]);
  if (indexed.status === 'rejected') {
    throw externalError(
      ErrorCode.ARCHIVE_FAILED,
      `${artifact.file} from ${target.name} is not a complete tar archive: ${(indexed.reason as Error).message}`,
      {
        asset: artifact.asset,
        step: 'extract',
      },
    );
  }
  if (imported.status === 'rejected') throw inContext(imported.reason, artifact.asset, 'extract');
  return { expected: indexed.value, from: target.name };
}

/** The superuser a fresh scratch server has: PostgreSQL's POSTGRES_USER if the image set one. */
export function scratchSuperuser(engine: DbEngine, env: string[]): string {
  if (engine !== 'postgres') return 'root';
  const set = env.find((e) => e.startsWith('POSTGRES_USER='))?.slice('POSTGRES_USER='.length);
  return set || 'postgres';
}
