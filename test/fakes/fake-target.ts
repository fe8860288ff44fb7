// An in-memory BackupTarget with a record of what was done to it, and faults a test can switch on.
import { Readable, Writable } from 'node:stream';
import { ErrorCode, externalError } from '../../src/errors.js';
import type {
  BackupTarget,
  TargetWrite,
  VersionedRead,
  WriteReceipt,
} from '../../src/ports/backup-target.js';

export type TargetOp = 'write' | 'commit' | 'abort' | 'put' | 'read' | 'delete';

type KeyMatch = string | RegExp | ((key: string) => boolean);

function matches(match: KeyMatch, key: string): boolean {
  if (typeof match === 'function') return match(key);
  if (typeof match === 'string') return key === match || key.endsWith(`/${match}`);
  return match.test(key);
}

const basename = (key: string) => key.slice(key.lastIndexOf('/') + 1);

export interface FakeTargetOptions {
  /**
   * Confirm writes the way S3 does with `confirm: checksum` (a receipt with the stored size),
   * so the engine does not read them back; `lie` adds to the size reported.
   */
  receipts?: { lie?: number };
  /** What `freeBytes` answers (a local disk); undefined where free space means nothing. */
  freeBytes?: number;
}

/**
 * A target that keeps objects in a map. A write becomes an object only on `commit`, after its
 * stream finished; `abort` leaves nothing behind, as the real targets promise. Faults: a write
 * that fails part-way, a stored object whose bytes rot, reads that hand back altered bytes,
 * a target that cannot be reached.
 */
export class FakeTarget implements BackupTarget {
  readonly location: string;
  readonly objects = new Map<string, Buffer>();
  /** Per key, how many times it was stored: the version `readVersion` names (an S3 ETag, a file's inode and mtime). */
  private readonly generations = new Map<string, number>();
  /** Everything done to the target, in order. */
  readonly ops: Array<{ op: TargetOp; key: string }> = [];
  private readonly writeFaults: Array<{ match: KeyMatch; afterBytes: number; message: string }> = [];
  private readonly readFaults: KeyMatch[] = [];
  private unreachable: string | undefined;

  constructor(
    readonly name: string,
    private readonly options: FakeTargetOptions = {},
  ) {
    this.location = `memory://${name}`;
  }

  // --- faults -------------------------------------------------------------------------------

  /** Writes of matching keys fail after `afterBytes` bytes (the stream errors, as a lost upload). */
  failWrites(match: KeyMatch, options: { afterBytes?: number; message?: string } = {}): void {
    this.writeFaults.push({
      match,
      afterBytes: options.afterBytes ?? 0,
      message: options.message ?? `${this.name}: connection reset while uploading`,
    });
  }

  /**
   * Flips one byte in the middle of a stored object: a tampered or rewritten copy, which is a new
   * version; `inPlace` keeps the version (bit rot that no tag notices).
   */
  corrupt(match: KeyMatch, options: { inPlace?: boolean } = {}): string {
    const key = [...this.objects.keys()].find((k) => matches(match, k));
    if (!key) throw new Error(`fake target ${this.name}: no object matches ${String(match)} to corrupt`);
    const copy = Buffer.from(this.objects.get(key) as Buffer);
    const i = copy.length >> 1;
    copy[i] = (copy[i] as number) ^ 0xff;
    if (options.inPlace) this.objects.set(key, copy);
    else this.store(key, copy);
    return key;
  }

  /** Reads of matching keys hand back altered bytes while the stored object stays intact. */
  corruptReads(match: KeyMatch = () => true): void {
    this.readFaults.push(match);
  }

  /** Every call fails with this reason until `reachable()`. */
  unreachableBecause(reason: string): void {
    this.unreachable = reason;
  }

  reachable(): void {
    this.unreachable = undefined;
  }

  // --- what tests read ----------------------------------------------------------------------

  /** File names (the key's last part) of the keys an operation was done to, in order. */
  files(op: TargetOp): string[] {
    return this.ops.filter((o) => o.op === op).map((o) => basename(o.key));
  }

  /** The object whose key ends with `/<file>` (or is `file`); undefined when there is none. */
  object(file: string): Buffer | undefined {
    const key = [...this.objects.keys()].find((k) => matches(file, k));
    return key === undefined ? undefined : this.objects.get(key);
  }

  // --- BackupTarget -------------------------------------------------------------------------

  async check(): Promise<void> {
    this.assertReachable('check');
  }

  async freeBytes(): Promise<number | undefined> {
    return this.options.freeBytes;
  }

  async write(key: string): Promise<TargetWrite> {
    this.assertReachable(`write ${key}`);
    this.ops.push({ op: 'write', key });
    const fault = this.writeFaults.find((f) => matches(f.match, key));
    const chunks: Buffer[] = [];
    let bytes = 0;
    const stream = new Writable({
      write: (chunk: Buffer, _enc, callback) => {
        if (fault && bytes + chunk.length > fault.afterBytes) {
          callback(new Error(fault.message));
          return;
        }
        chunks.push(chunk);
        bytes += chunk.length;
        callback();
      },
    });
    const finished = new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
    finished.catch(() => undefined);
    let settled = false;
    return {
      stream,
      commit: async (): Promise<WriteReceipt | undefined> => {
        await finished;
        if (settled) throw new Error(`fake target ${this.name}: ${key} committed after it was settled`);
        settled = true;
        const body = Buffer.concat(chunks);
        this.store(key, body);
        this.ops.push({ op: 'commit', key });
        if (!this.options.receipts) return undefined;
        return {
          bytes: body.length + (this.options.receipts.lie ?? 0),
          checked: 'Content-MD5 of every part, size',
        };
      },
      abort: async () => {
        settled = true;
        stream.destroy();
        this.objects.delete(key);
        this.ops.push({ op: 'abort', key });
      },
    };
  }

  async put(key: string, body: string | Buffer): Promise<void> {
    this.assertReachable(`put ${key}`);
    this.store(key, Buffer.from(body));
    this.ops.push({ op: 'put', key });
  }

  async read(key: string): Promise<Readable> {
    return (await this.readVersion(key)).stream;
  }

  async readVersion(key: string, version?: string): Promise<VersionedRead> {
    this.assertReachable(`read ${key}`);
    this.ops.push({ op: 'read', key });
    const body = this.objects.get(key);
    if (!body)
      throw externalError(ErrorCode.TARGET_WRITE_FAILED, `${this.name}: no object ${key}`, { step: 'read' });
    const current = `v${this.generations.get(key) ?? 0}`;
    if (version !== undefined && version !== current)
      throw externalError(
        ErrorCode.ARTIFACT_CHANGED,
        `${this.name}: ${key} is ${current} now, not ${version}`,
        { step: 'read' },
      );
    const copy = Buffer.from(body);
    if (copy.length && this.readFaults.some((m) => matches(m, key))) {
      const i = copy.length >> 1;
      copy[i] = (copy[i] as number) ^ 1;
    }
    return { stream: Readable.from([copy]), version: current };
  }

  async delete(key: string): Promise<void> {
    this.assertReachable(`delete ${key}`);
    this.objects.delete(key);
    this.ops.push({ op: 'delete', key });
  }

  async list(prefix: string): Promise<string[]> {
    this.assertReachable(`list ${prefix}`);
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  private store(key: string, body: Buffer): void {
    this.objects.set(key, body);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
  }

  private assertReachable(what: string): void {
    if (this.unreachable)
      throw externalError(
        ErrorCode.TARGET_WRITE_FAILED,
        `${this.name} unreachable (${what}): ${this.unreachable}`,
      );
  }
}
