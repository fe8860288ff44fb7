import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import pLimit from 'p-limit';
import { type Asset, artifactFileName, artifactKindOf } from '../domain/assets.js';
import { artifactKey, newSetId, setDirectory } from '../domain/layout.js';
import type { Run } from '../domain/runs.js';
import { AppError, describeError, ErrorCode, externalError, inContext, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TargetWrite } from '../ports/backup-target.js';
import type { SetRecord } from '../ports/state-store.js';
import type { EngineDeps } from './deps.js';
import { loadInventory, selectAssets } from './inventory.js';
import { acquireAssets } from './locks.js';
import { buildManifest, writeManifest } from './manifest.js';
import { type PruneReport, pruneExpired } from './prune.js';
import { RunContext } from './run-context.js';
import { sourceFor } from './sources.js';
import { FanOut, HashCounter, hashStream, StreamInspector } from './streams.js';

export interface BackupRequest {
  /** `all` or one asset name. */
  target: string;
  requester: string;
}

export interface ArtifactSummary {
  asset: string;
  kind: string;
  file: string;
  size: number;
  rawSize: number;
  sha256: string;
  ms: number;
}

export interface BackupOutcome {
  run: Run;
  setId: string;
  status: 'succeeded' | 'failed';
  artifacts: ArtifactSummary[];
  failures: string[];
  skipped: string[];
  prune: PruneReport | undefined;
  targets: string[];
}

/**
 * The backup run: inventory → dump (one streamed pass per asset: source → gzip → sha256 →
 * every target at once) → verify (re-read and hash on every target) → manifest → prune →
 * report. A set is complete only when every artifact is confirmed on every target; anything
 * else fails the run, removes what was written and records the cause.
 */
export async function runBackup(deps: EngineDeps, request: BackupRequest): Promise<BackupOutcome> {
  const { store, clock } = deps;
  const inventory = await loadInventory(deps);
  const assets = selectAssets(inventory, request.target);
  const names = assets.map((a) => a.name);
  const lock = acquireAssets(deps, 'backup', names);

  const startedAt = clock.now();
  let run = store.createRun({
    kind: 'backup',
    requester: request.requester,
    target: request.target,
    status: 'running',
    at: startedAt,
  });
  lock.bind(run.id);
  try {
    run = store.updateRun(run.id, { startedAt, result: { assets: names } });
    const ctx = new RunContext(run, store, clock, deps.log, deps.observer);
    const setId = newSetId(startedAt);
    store.createSet({ id: setId, runId: run.id, createdAt: startedAt });
    const outcome: BackupOutcome = {
      run,
      setId,
      status: 'failed',
      artifacts: [],
      failures: [],
      skipped: [],
      prune: undefined,
      targets: deps.targets.map((t) => `${t.name} (${t.location})`),
    };
    try {
      await ctx.stage('inventory', async () => {
        ctx.info(`backing up ${assets.map((a) => a.name).join(', ')} to ${outcome.targets.join(', ')}`, {
          assets: assets.map((a) => a.name),
          setId,
        });
        if (request.target === 'all') {
          for (const bad of inventory.invalid) {
            const msg = `skipped ${bad.kind} ${bad.name}: ${bad.problems.join('; ')}`;
            outcome.skipped.push(msg);
            ctx.warn(msg);
          }
        }
        await Promise.all(deps.targets.map((t) => t.check()));
      });

      const results = await ctx.stage('dump', async (log) => {
        const limit = pLimit(deps.config.backup.parallelism);
        const settled = await Promise.allSettled(
          assets.map((asset) => limit(() => backupArtifact(deps, ctx, log, setId, startedAt, asset))),
        );
        const failures = settled.flatMap((s) => (s.status === 'rejected' ? [toAppError(s.reason)] : []));
        if (failures.length) {
          outcome.failures = failures.map(describeError);
          throw failures.length === 1
            ? failures[0]
            : externalError(
                failures[0]?.code ?? ErrorCode.INTERNAL,
                `${failures.length} assets failed: ${outcome.failures.join(' | ')}`,
              );
        }
        return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      });
      outcome.artifacts = results;

      await ctx.stage('verify', async () => {
        const set = store.getSet(setId) as SetRecord;
        await confirmOnTargets(deps, ctx, set);
        const completedAt = clock.now();
        const manifest = buildManifest(store.getSet(setId) as SetRecord, completedAt);
        await Promise.all(deps.targets.map((t) => writeManifest(t, set, manifest)));
        store.updateSet(setId, { status: 'complete', completedAt });
        ctx.info(
          `set ${setId} complete: ${results.length} artifact(s) confirmed on ${deps.targets.length} target(s)`,
        );
      });
    } catch (err) {
      const e = toAppError(err);
      if (!outcome.failures.length) outcome.failures = [describeError(e)];
      await discardSet(deps, ctx, setId, startedAt);
      store.updateSet(setId, { status: 'failed', error: outcome.failures.join(' | ') });
      const endedAt = clock.now();
      run = store.updateRun(run.id, {
        status: 'failed',
        endedAt,
        error: outcome.failures.join(' | '),
        result: resultOf(outcome),
      });
      ctx.error(`backup failed: ${outcome.failures.join(' | ')}`, { code: e.code });
      return { ...outcome, run };
    }

    // The set is safe now; pruning problems are reported but do not fail the backup.
    outcome.prune = await ctx
      .stage('prune', async () => pruneExpired(deps, ctx))
      .catch((err) => {
        ctx.warn(`prune did not complete: ${describeError(err)}`);
        return undefined;
      });
    outcome.status = 'succeeded';
    await ctx.stage('report', async () => {
      const total = outcome.artifacts.reduce((n, a) => n + a.size, 0);
      ctx.info(`backup ${setId}: ${outcome.artifacts.length} artifact(s), ${total} bytes compressed`, {
        setId,
        bytes: total,
      });
    });
    run = store.updateRun(run.id, { status: 'succeeded', endedAt: clock.now(), result: resultOf(outcome) });
    return { ...outcome, run };
  } catch (err) {
    // Only reached by a bug in the handling above: never leave the run looking alive.
    store.updateRun(run.id, { status: 'failed', endedAt: clock.now(), error: describeError(err) });
    throw err;
  } finally {
    lock.release();
  }
}

function resultOf(o: BackupOutcome): Record<string, unknown> {
  return {
    assets: o.artifacts.map((a) => a.asset),
    setId: o.setId,
    artifacts: o.artifacts,
    failures: o.failures,
    skipped: o.skipped,
    pruned: o.prune?.deleted.length ?? 0,
  };
}

async function backupArtifact(
  deps: EngineDeps,
  ctx: RunContext,
  log: Logger,
  setId: string,
  setTime: Date,
  asset: Asset,
): Promise<ArtifactSummary> {
  const { store, clock, targets } = deps;
  const file = artifactFileName(asset);
  const key = artifactKey(setId, setTime, file);
  const started = clock.now();
  const artifactId = store.addArtifact({
    setId,
    asset: asset.name,
    kind: artifactKindOf(asset),
    file,
    compression: 'gzip',
    startedAt: started,
  });
  const alog = log.child({ asset: asset.name });
  let writes: TargetWrite[] = [];
  try {
    const source = await sourceFor(deps.runtime, asset);
    const sizeHint = previousSize(deps, asset.name);
    writes = await Promise.all(targets.map((t) => t.write(key, sizeHint)));
    for (const t of targets)
      store.setLocation(artifactId, { target: t.name, key, status: 'writing', confirmedAt: undefined });
    alog.info({ tool: source.tool, key }, 'dump started');

    const inspector = new StreamInspector();
    const hasher = new HashCounter();
    const flow = pipeline(
      source.stream,
      inspector,
      createGzip({ level: deps.config.backup.compressionLevel }),
      hasher,
      new FanOut(
        writes.map((w, i) => ({ name: (targets[i] as (typeof targets)[number]).name, stream: w.stream })),
      ),
    );
    const [piped, produced] = await Promise.allSettled([flow, source.finished]);
    if (piped.status === 'rejected' || produced.status === 'rejected') {
      throw pickCause(piped, produced);
    }
    const { engineVersion } = source.check({
      bytes: inspector.bytes,
      head: inspector.head,
      tail: inspector.tail,
    });
    await Promise.all(writes.map((w) => w.commit()));

    const ended = clock.now();
    store.updateArtifact(artifactId, {
      size: hasher.bytes,
      rawSize: inspector.bytes,
      sha256: hasher.sha256,
      ...(engineVersion ? { engineVersion } : {}),
      endedAt: ended,
    });
    const ms = ended.getTime() - started.getTime();
    ctx.info(
      `${asset.name}: ${file} ${hasher.bytes} bytes (raw ${inspector.bytes}) sha256 ${hasher.sha256.slice(0, 12)}…`,
      { asset: asset.name, ms },
      'dump',
    );
    return {
      asset: asset.name,
      kind: artifactKindOf(asset),
      file,
      size: hasher.bytes,
      rawSize: inspector.bytes,
      sha256: hasher.sha256,
      ms,
    };
  } catch (err) {
    const e = inContext(err, asset.name, asset.kind === 'volume' ? 'archive' : 'dump');
    await Promise.all(writes.map((w) => w.abort(e).catch(() => undefined)));
    store.updateArtifact(artifactId, { status: 'failed', endedAt: clock.now() });
    ctx.error(`${asset.name}: ${describeError(e)}`, { asset: asset.name, code: e.code }, 'dump');
    throw e;
  }
}

/** When the stream and the producer both failed, the more specific of the two causes. */
function pickCause(piped: PromiseSettledResult<unknown>, produced: PromiseSettledResult<unknown>): unknown {
  const a = piped.status === 'rejected' ? piped.reason : undefined;
  const b = produced.status === 'rejected' ? produced.reason : undefined;
  if (a instanceof AppError) return a; // a target failed: that is the cause, the producer was cut off
  if (b instanceof AppError) return b; // the dump tool failed: its exit code and stderr say why
  return a ?? b;
}

function previousSize(deps: EngineDeps, asset: string): number | undefined {
  for (const set of deps.store.listSets({ status: ['complete'] })) {
    const a = set.artifacts.find((x) => x.asset === asset && x.size !== undefined);
    if (a?.size) return a.size;
  }
  return undefined;
}

/** Re-reads every artifact from every target and compares size and sha256 with what was written. */
async function confirmOnTargets(deps: EngineDeps, ctx: RunContext, set: SetRecord): Promise<void> {
  const checks = set.artifacts.flatMap((a) => deps.targets.map((t) => ({ a, t })));
  await Promise.all(
    checks.map(async ({ a, t }) => {
      const key = artifactKey(set.id, set.createdAt, a.file);
      const got = await hashStream(await t.read(key));
      if (got.sha256 !== a.sha256 || got.bytes !== a.size) {
        deps.store.setLocation(a.id, { target: t.name, key, status: 'failed', confirmedAt: undefined });
        throw externalError(
          ErrorCode.CHECKSUM_MISMATCH,
          `${t.name}: ${key} reads back as ${got.bytes} bytes sha256 ${got.sha256.slice(0, 12)}…, expected ${a.size} bytes ${a.sha256?.slice(0, 12)}…`,
          { asset: a.asset, step: 'verify' },
        );
      }
      deps.store.setLocation(a.id, {
        target: t.name,
        key,
        status: 'confirmed',
        confirmedAt: deps.clock.now(),
      });
    }),
  );
  for (const a of set.artifacts) deps.store.updateArtifact(a.id, { status: 'complete' });
  ctx.info(
    `checksums confirmed for ${set.artifacts.length} artifact(s) on ${deps.targets.map((t) => t.name).join(', ')}`,
    undefined,
    'verify',
  );
}

/** Removes everything a failed set wrote, on every target; says what could not be removed. */
async function discardSet(deps: EngineDeps, ctx: RunContext, setId: string, setTime: Date): Promise<void> {
  const dir = setDirectory(setId, setTime);
  const set = deps.store.getSet(setId);
  await Promise.all(
    deps.targets.map(async (t) => {
      try {
        const keys = await t.list(`${dir}/`);
        await Promise.all(keys.map((k) => t.delete(k)));
        for (const a of set?.artifacts ?? []) {
          const loc = a.locations.find((l) => l.target === t.name);
          if (loc) deps.store.setLocation(a.id, { ...loc, status: 'deleted' });
        }
      } catch (err) {
        // No manifest was written for this set, so nothing left behind can pass for complete.
        ctx.warn(`could not remove the failed set's files from ${t.name}: ${describeError(err)}`, {
          target: t.name,
        });
      }
    }),
  );
}
