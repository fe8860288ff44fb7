// Writes one set: every artifact streamed to every target, confirmed, then SHA256SUMS and the manifest.
import { pipeline } from 'node:stream/promises';

import pLimit from 'p-limit';
import { type Asset, artifactFileName, artifactKindOf } from '../../domain/assets.js';
import { artifactKey, newSetId, setDirectory } from '../../domain/layout.js';
import type { ArtifactSummary } from '../../domain/runs.js';
import { AppError, describeError, ErrorCode, externalError, inContext, toAppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { BackupTarget, TargetWrite, WriteReceipt } from '../../ports/backup-target.js';
import type { ArtifactMeta, SetPurpose, SetRecord } from '../../ports/state-store.js';
import { buildManifest, type SetDescription, writeManifest } from '../catalog/manifest.js';
import { describeSet } from '../catalog/sidecars.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { AGE_SUFFIX, type AgeStream, encrypterFor } from '../streams/age.js';
import { type Compression, compressorFor } from '../streams/compressor.js';
import { FanOut, HashCounter, hashStream, StreamInspector } from '../streams/streams.js';
import { whileRunning } from './container-gate.js';
import { withHooks } from './hooks.js';
import { type ArtifactSource, sourceFor } from './sources.js';
import { withMountersStopped } from './stopped-archive.js';

export type { ArtifactSummary } from '../../domain/runs.js';

export interface WrittenSet {
  setId: string;
  artifacts: ArtifactSummary[];
}

/** A set that could not be completed: what failed, per asset, after its files were removed. */
export class SetWriteError extends AppError {
  constructor(
    readonly setId: string,
    readonly failures: string[],
    first: AppError,
  ) {
    super(
      first.code,
      first.kind,
      failures.length === 1 ? first.message : `${failures.length} assets failed: ${failures.join(' | ')}`,
      {
        cause: first,
        ...(failures.length === 1 && first.asset ? { asset: first.asset } : {}),
        ...(failures.length === 1 && first.step ? { step: first.step } : {}),
        ...(failures.length === 1 && first.stderrTail ? { stderrTail: first.stderrTail } : {}),
      },
    );
  }
}

export interface WriteSetOptions {
  assets: Asset[];
  purpose: SetPurpose;
  at: Date;
  /** Where to write; every one is required for the set to be complete. */
  targets: BackupTarget[];
  /** Wraps the two phases, so a backup run shows them as its `dump` and `verify` stages. */
  phase: <T>(name: 'dump' | 'verify', fn: (log: Logger) => Promise<T>) => Promise<T>;
}

/**
 * Writes one set: each asset in one streamed pass (source → gzip → sha256 → every target at
 * once), each artifact confirmed on every target once its upload is committed (read back and
 * hashed, or by the target's own checksums: see confirmArtifact), then SHA256SUMS and the
 * manifest. Complete, or removed with the causes recorded — never half-written.
 */
export async function writeSet(
  deps: EngineDeps,
  ctx: RunContext,
  options: WriteSetOptions,
): Promise<WrittenSet> {
  const { store, clock } = deps;
  const setId = newSetId(options.at);
  store.createSet({ id: setId, runId: ctx.run.id, createdAt: options.at, purpose: options.purpose });
  // Each artifact's confirmation (a read-back) starts as soon as its own upload is committed,
  // while the others may still be dumping; the verify phase waits for all of them.
  const confirmations: Array<Promise<void>> = [];
  /** Per target that confirmed uploads itself, how (for the verify message). */
  const howConfirmed = new Map<string, string>();
  /** Per encrypted artifact file: the hash and size of its plaintext (.gz), for the manifest. */
  const plaintexts: NonNullable<SetDescription['plaintexts']> = {};
  try {
    const artifacts = await options.phase('dump', async (log) => {
      const { compressor, compressionLevel } = deps.config.backup;
      const compress = await compressorFor(compressor, compressionLevel);
      // With recipients, every artifact is encrypted to all of them in the same pass (after gzip).
      const { recipients, tool } = deps.config.encryption;
      const encrypt = recipients.length ? await encrypterFor(tool, recipients) : undefined;
      const limit = pLimit(deps.config.backup.parallelism);
      const settled = await Promise.allSettled(
        options.assets.map((asset) =>
          limit(async () => {
            const written = await writeArtifact(deps, ctx, log, options, setId, asset, compress, encrypt);
            if (written.plaintext)
              plaintexts[written.summary.file] = { ...written.plaintext, recipients: [...recipients] };
            written.receipts.forEach((r, i) => {
              const name = (options.targets[i] as BackupTarget).name;
              if (r) howConfirmed.set(name, [howConfirmed.get(name), r.checked].filter(unique).join('; '));
            });
            const confirmed = confirmArtifact(deps, written, options.targets);
            confirmed.catch(() => undefined); // surfaced by the verify phase
            confirmations.push(confirmed);
            return written.summary;
          }),
        ),
      );
      const failures = settled.flatMap((s) => (s.status === 'rejected' ? [toAppError(s.reason)] : []));
      if (failures.length)
        throw new SetWriteError(setId, failures.map(describeError), failures[0] as AppError);
      return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    });
    await options.phase('verify', async () => {
      const set = store.getSet(setId) as SetRecord;
      const checked = await Promise.allSettled(confirmations);
      const failed = checked.find((c) => c.status === 'rejected');
      if (failed) throw failed.reason;
      const now = clock.now();
      for (const a of set.artifacts) store.updateArtifact(a.id, { status: 'complete', verifiedAt: now });
      ctx.info(
        `checksums confirmed for ${set.artifacts.length} artifact(s) on ${options.targets.map((t) => `${t.name} (${howConfirmed.get(t.name) ?? 'read back, sha256'})`).join(', ')}`,
      );
      const completedAt = clock.now();
      // Complete in the catalog before the state is snapshotted, so the snapshot holds this
      // set; the catch below marks it failed again if its manifest cannot be written.
      store.updateSet(setId, { status: 'complete', completedAt });
      const description =
        options.purpose === 'backup'
          ? await describeSet(deps, ctx, { setId, assets: options.assets, targets: options.targets })
          : {};
      const manifest = buildManifest(store.getSet(setId) as SetRecord, completedAt, {
        ...description,
        plaintexts,
      });
      await Promise.all(options.targets.map((t) => writeManifest(t, set, manifest)));
      ctx.info(
        `set ${setId} complete: ${artifacts.length} artifact(s) confirmed on ${options.targets.map((t) => t.name).join(', ')}`,
      );
    });
    return { setId, artifacts };
  } catch (err) {
    const e =
      err instanceof SetWriteError ? err : new SetWriteError(setId, [describeError(err)], toAppError(err));
    await Promise.allSettled(confirmations); // no read-back may still run while the files go
    await discardSet(deps, ctx, setId, options.at, options.targets);
    store.updateSet(setId, { status: 'failed', error: e.failures.join(' | ') });
    throw e;
  }
}

/** For filter: drops empty and repeated entries. */
function unique(v: string | undefined, i: number, all: Array<string | undefined>): v is string {
  return Boolean(v) && all.indexOf(v) === i;
}

/** What a restore or deep verify needs later, even if the volume or container is gone by then. */
async function metaOf(deps: EngineDeps, asset: Asset): Promise<ArtifactMeta> {
  if (asset.kind === 'volume')
    return { labels: asset.labels, ...(asset.dataOf !== undefined ? { dataOf: asset.dataOf } : {}) };
  const c = await deps.runtime.inspectContainer(asset.container).catch(() => undefined);
  return {
    container: asset.container,
    engine: asset.engine,
    user: asset.user,
    passwordEnv: asset.passwordEnv,
    ...(c ? { image: c.image } : {}),
  };
}

async function writeArtifact(
  deps: EngineDeps,
  ctx: RunContext,
  log: Logger,
  options: WriteSetOptions,
  setId: string,
  asset: Asset,
  compress: () => Compression,
  encrypt: (() => AgeStream) | undefined,
): Promise<WrittenArtifact> {
  const { store, clock } = deps;
  const targets = options.targets;
  const file = `${artifactFileName(asset)}${encrypt ? AGE_SUFFIX : ''}`;
  const key = artifactKey(setId, options.at, file);
  const started = clock.now();
  const artifactId = store.addArtifact({
    setId,
    asset: asset.name,
    kind: artifactKindOf(asset),
    file,
    compression: 'gzip',
    startedAt: started,
    meta: await metaOf(deps, asset),
  });
  const alog = log.child({ asset: asset.name });
  let writes: TargetWrite[] = [];
  let source: ArtifactSource | undefined;
  try {
    // Inside its containers' hooks (pre … post/error, finally); a database's dump needs its
    // container running; a stopped archive stops the containers.
    return await withHooks(deps, ctx, asset, () =>
      guarded(deps, ctx, asset, async () => {
        // Every target is open before the dump starts: a dump nobody reads blocks forever (and a
        // PostgreSQL dump's snapshot holds its locks on every table meanwhile).
        const sizeHint = previousSize(deps, asset.name);
        // The tier and retention let S3 targets tag the object and lock it (DESIGN §10).
        const policy = asset.policy as typeof asset.policy | undefined;
        const about = policy && { tier: policy.tier, retention: policy.retention };
        const opened = await Promise.allSettled(targets.map((t) => t.write(key, sizeHint, about)));
        writes = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        const refused = opened.find((o) => o.status === 'rejected');
        if (refused) throw refused.reason;
        for (const t of targets)
          store.setLocation(artifactId, { target: t.name, key, status: 'writing', confirmedAt: undefined });
        source = await sourceFor(deps.runtime, asset);
        const compression = compress();
        alog.info({ tool: source.tool, compressor: compression.tool, key }, 'dump started');

        const inspector = new StreamInspector();
        const hasher = new HashCounter();
        const fanOut = new FanOut(
          writes.map((w, i) => ({ name: (targets[i] as BackupTarget).name, stream: w.stream })),
        );
        // Encrypted: the .gz is hashed before age (the manifest's plaintext hash), and what is
        // stored after it (the hash SHA256SUMS and every confirmation use).
        const encryption = encrypt?.();
        const plainHasher = encryption ? new HashCounter() : undefined;
        const flow =
          encryption && plainHasher
            ? pipeline(
                source.stream,
                inspector,
                compression.stream,
                plainHasher,
                encryption.stream,
                hasher,
                fanOut,
              )
            : pipeline(source.stream, inspector, compression.stream, hasher, fanOut);
        ctx.watchBytes(inspector, {
          asset: asset.name,
          action: asset.kind === 'volume' ? 'archive' : 'dump',
        });
        const outcomes = await Promise.allSettled([
          flow,
          compression.done,
          source.finished,
          ...(encryption ? [encryption.done] : []),
        ]);
        if (outcomes.some((o) => o.status === 'rejected')) throw pickCause(outcomes);
        const { engineVersion } = source.check({
          bytes: inspector.bytes,
          head: inspector.head,
          tail: inspector.tail,
        });
        const receipts = await Promise.all(writes.map((w) => w.commit()));

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
          `${asset.name}: ${file} ${hasher.bytes} bytes (raw ${inspector.bytes}, ${compression.tool}${encryption ? `, ${encryption.tool} to ${deps.config.encryption.recipients.length} recipient(s)` : ''}) sha256 ${hasher.sha256.slice(0, 12)}…`,
          { asset: asset.name, ms },
        );
        const summary: ArtifactSummary = {
          asset: asset.name,
          kind: artifactKindOf(asset),
          file,
          size: hasher.bytes,
          rawSize: inspector.bytes,
          sha256: hasher.sha256,
          ms,
        };
        return {
          summary,
          id: artifactId,
          key,
          receipts,
          ...(plainHasher ? { plaintext: { sha256: plainHasher.sha256, size: plainHasher.bytes } } : {}),
        };
      }),
    );
  } catch (err) {
    const e = inContext(err, asset.name, asset.kind === 'volume' ? 'archive' : 'dump');
    // Whatever failed, the producer stops: its exec or archive connection closes, and the
    // volume's anchor container is removed when its stream closes.
    source?.stream.destroy();
    await Promise.all(writes.map((w) => w.abort(e).catch(() => undefined)));
    store.updateArtifact(artifactId, { status: 'failed', endedAt: clock.now() });
    ctx.error(`${asset.name}: ${describeError(e)}`, { asset: asset.name, code: e.code });
    throw e;
  }
}

/** Runs an artifact's dump or archive under the conditions its asset needs (see container-gate). */
function guarded<T>(deps: EngineDeps, ctx: RunContext, asset: Asset, fn: () => Promise<T>): Promise<T> {
  if (asset.kind === 'database') return whileRunning(asset.container, fn);
  if (asset.archiveStopped) return withMountersStopped(deps, ctx, asset, fn);
  return fn();
}

/**
 * When several parts failed, the most specific cause, in this order: a target (the producer and
 * the compressor were cut off because of it), the compressor (the dump tool then fails on a
 * broken pipe), the dump tool (its exit code and stderr say why); otherwise the first plain
 * error. A compressor stopped because the stream failed elsewhere rejects with a plain error.
 */
function pickCause(outcomes: Array<PromiseSettledResult<unknown>>): unknown {
  const reasons = outcomes.map((o) => (o.status === 'rejected' ? o.reason : undefined));
  return reasons.find((r) => r instanceof AppError) ?? reasons.find((r) => r !== undefined);
}

/** The last size of an asset's artifact, so S3 can pick a part size that fits 10,000 parts. */
function previousSize(deps: EngineDeps, asset: string): number | undefined {
  return deps.store.newestArtifactSize(asset) || undefined;
}

interface WrittenArtifact {
  summary: ArtifactSummary;
  id: number;
  key: string;
  /** Per target, in order: what the target confirmed itself, if anything. */
  receipts: Array<WriteReceipt | undefined>;
  /** Encrypted: the hash and size of the .gz that was encrypted. */
  plaintext?: { sha256: string; size: number };
}

/**
 * Confirms an artifact on every target: where the target confirmed the stored bytes itself (S3
 * with `confirm: checksum`: Content-MD5 checked by S3, ETags and size compared), its size must
 * be the bytes written; elsewhere it is read back and its size and sha256 compared.
 */
async function confirmArtifact(
  deps: EngineDeps,
  written: WrittenArtifact,
  targets: BackupTarget[],
): Promise<void> {
  const { key, id } = written;
  const a = { id, asset: written.summary.asset, size: written.summary.size, sha256: written.summary.sha256 };
  await Promise.all(
    targets.map(async (t, i) => {
      const receipt = written.receipts[i];
      if (receipt && receipt.bytes !== a.size) {
        deps.store.setLocation(a.id, { target: t.name, key, status: 'failed', confirmedAt: undefined });
        throw externalError(
          ErrorCode.CHECKSUM_MISMATCH,
          `${t.name}: ${key} is stored as ${receipt.bytes} bytes, expected ${a.size}`,
          { asset: a.asset, step: 'verify' },
        );
      }
      const got = receipt ? undefined : await hashStream(await t.read(key));
      if (got && (got.sha256 !== a.sha256 || got.bytes !== a.size)) {
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
}

/** Removes everything a failed set wrote, on every target; says what could not be removed. */
async function discardSet(
  deps: EngineDeps,
  ctx: RunContext,
  setId: string,
  setTime: Date,
  targets: BackupTarget[],
): Promise<void> {
  const dir = setDirectory(setId, setTime);
  const set = deps.store.getSet(setId);
  await Promise.all(
    targets.map(async (t) => {
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
