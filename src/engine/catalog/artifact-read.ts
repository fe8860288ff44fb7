// Opening an artifact for reading from a target that holds a confirmed copy.
import { PassThrough, type Readable } from 'node:stream';
import { artifactKey } from '../../domain/layout.js';
import { AppError, describeError, ErrorCode, externalError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import type { EngineDeps } from '../deps.js';
import { type AgeIdentity, decrypterFor, headerOpens, isEncrypted, loadIdentity } from '../streams/age.js';

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

/**
 * For work that needs the plaintext of artifacts (restore, deep verify, test): the age identity
 * when any of them is encrypted, loaded before anything is touched; a user error that says
 * what is missing otherwise. Undefined when none is encrypted.
 */
export async function identityFor(
  deps: EngineDeps,
  files: readonly string[],
  what: string,
): Promise<AgeIdentity | undefined> {
  if (!files.some(isEncrypted)) return undefined;
  return loadIdentity(deps.config, what, deps.env ?? process.env);
}

/**
 * Fails unless the identity opens an encrypted artifact's copy (checked on its header, whose
 * MAC proves the key), so a wrong key stops the work before anything is touched.
 */
export async function requireOpens(
  identity: AgeIdentity,
  artifact: Pick<ArtifactRecord, 'asset' | 'file'>,
  target: BackupTarget,
  stream: Readable,
  step: string,
): Promise<void> {
  const problem = await headerOpens(identity, stream);
  if (!problem) return;
  throw externalError(
    ErrorCode.DECRYPTION_FAILED,
    `${artifact.file} on ${target.name} cannot be decrypted with the identity in ${identity.path} (from ${identity.from}): ${problem}`,
    { asset: artifact.asset, step },
  );
}

/**
 * The gzip inside a stored artifact's stream: decrypted on the way when it is an age file
 * (streamed, 64 KiB at a time; a wrong key or a file cut short fails the stream), as it is
 * otherwise. `what` names the work for the error when no identity is configured.
 */
export async function gzipOf(
  deps: EngineDeps,
  artifact: Pick<ArtifactRecord, 'asset' | 'file'>,
  stream: Readable,
  what: string,
): Promise<Readable> {
  if (!isEncrypted(artifact.file)) return stream;
  const identity = await loadIdentity(deps.config, what, deps.env ?? process.env);
  const decryption = (await decrypterFor(deps.config.encryption.tool, identity))();
  // A failure names the artifact; the stored stream's own errors pass through as they are.
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  stream.once('error', (err) => {
    decryption.stream.destroy(err);
    out.destroy(err);
  });
  decryption.stream.once('error', (err) => {
    stream.destroy();
    out.destroy(
      err instanceof AppError && err.code !== ErrorCode.DECRYPTION_FAILED
        ? err
        : externalError(ErrorCode.DECRYPTION_FAILED, `${artifact.file}: ${err.message}`, {
            cause: err,
            asset: artifact.asset,
            step: 'decrypt',
          }),
    );
  });
  stream.pipe(decryption.stream).pipe(out);
  return out;
}
