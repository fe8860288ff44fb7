// Stores one stream (an archived log, a base backup) on every target at once, gzipped, hashed, confirmed.
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PitrLog } from '../../domain/pitr.js';
import { ErrorCode, externalError } from '../../errors.js';
import type { TargetWrite } from '../../ports/backup-target.js';
import type { ExecResult } from '../../ports/container-runtime.js';
import type { EngineDeps } from '../deps.js';
import { encrypterFor } from '../streams/age.js';
import { compressorFor } from '../streams/compressor.js';
import { FanOut, HashCounter, hashStream } from '../streams/streams.js';
import { tail } from './mysql-binlog.js';

/** Whether stored files are age files (`encryption.recipients`): their keys end in `.age`. */
export const encrypting = (deps: Pick<EngineDeps, 'config'>) => deps.config.encryption.recipients.length > 0;

/**
 * Reads `source` (a process's stdout in a container), passes it through `inspect` if given,
 * gzips it with the backups' compressor, encrypts it like the dumps when there are recipients,
 * and writes it to every target at once; each copy is confirmed by its receipt or read back.
 * A failing read, process or target aborts every copy. Returns the stored bytes and sha256.
 */
export async function shipEverywhere(
  deps: EngineDeps,
  input: {
    asset: string;
    key: string;
    sizeHint: number;
    source: { stream: Readable; done: Promise<ExecResult> };
    what: string;
    inspect?: Transform;
  },
): Promise<{ bytes: number; sha256: string }> {
  const { asset, key, source } = input;
  const { recipients, tool } = deps.config.encryption;
  const encrypt = recipients.length ? (await encrypterFor(tool, recipients))() : undefined;
  const opened = await Promise.allSettled(deps.targets.map((target) => target.write(key, input.sizeHint)));
  const writes = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  try {
    const refused = opened.find((o) => o.status === 'rejected');
    if (refused) {
      source.stream.destroy();
      throw refused.reason;
    }
    const hasher = new HashCounter();
    const { compressor, compressionLevel } = deps.config.backup;
    const compression = (await compressorFor(compressor, compressionLevel))();
    const fanOut = new FanOut(
      (writes as TargetWrite[]).map((w, i) => ({
        name: (deps.targets[i] as { name: string }).name,
        stream: w.stream,
      })),
    );
    const stages = [
      source.stream,
      ...(input.inspect ? [input.inspect] : []),
      compression.stream,
      ...(encrypt ? [encrypt.stream] : []),
      hasher,
      fanOut,
    ];
    await (pipeline as (...s: unknown[]) => Promise<void>)(...stages);
    await compression.done;
    await encrypt?.done;
    const res = await source.done;
    if (res.exitCode !== 0)
      throw externalError(ErrorCode.ARCHIVE_FAILED, `${input.what} exited ${res.exitCode}`, {
        asset,
        step: 'pitr',
        stderrTail: tail(res),
      });
    const receipts = await Promise.all(writes.map((w) => w.commit()));
    await Promise.all(
      deps.targets.map(async (target, i) => {
        const receipt = receipts[i];
        const got = receipt
          ? { bytes: receipt.bytes, sha256: hasher.sha256 }
          : await hashStream(await target.read(key));
        if (got.bytes !== hasher.bytes || got.sha256 !== hasher.sha256)
          throw externalError(
            ErrorCode.CHECKSUM_MISMATCH,
            `${target.name}: ${key} is stored as ${got.bytes} bytes sha256 ${got.sha256.slice(0, 12)}…, expected ${hasher.bytes} bytes ${hasher.sha256.slice(0, 12)}…`,
            { asset, step: 'pitr' },
          );
      }),
    );
    return { bytes: hasher.bytes, sha256: hasher.sha256 };
  } catch (err) {
    await Promise.all(writes.map((w) => w.abort(err as Error).catch(() => undefined)));
    throw err;
  }
}

/**
 * The catalog record of a file stored on `targets` (every target unless said): complete,
 * archived now, with the stored bytes' size and sha256.
 */
export function storedRecord(
  deps: Pick<EngineDeps, 'clock' | 'targets'>,
  fields: Pick<PitrLog, 'asset' | 'name' | 'seq' | 'key' | 'firstAt' | 'lastAt' | 'rawSize'>,
  stored: { bytes: number; sha256: string },
  targets: string[] = deps.targets.map((t) => t.name),
): PitrLog {
  return {
    ...fields,
    size: stored.bytes,
    sha256: stored.sha256,
    archivedAt: deps.clock.now(),
    status: 'complete',
    error: undefined,
    targets,
  };
}
