import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { buildConfig } from '../../../../src/config.js';
import type { Asset } from '../../../../src/domain/assets.js';
import { SetWriteError, writeSet } from '../../../../src/engine/backup/set-writer.js';
import type { EngineDeps } from '../../../../src/engine/deps.js';
import { RunContext } from '../../../../src/engine/runs/run-context.js';
import { ErrorCode, externalError } from '../../../../src/errors.js';
import { createLogger } from '../../../../src/log.js';
import type { BackupTarget, TargetWrite } from '../../../../src/ports/backup-target.js';
import { systemClock } from '../../../../src/ports/clock.js';
import type { ContainerRuntime } from '../../../../src/ports/container-runtime.js';

/** A target in memory; `corrupt` flips one byte of what it hands back (bit rot, a bad proxy). */
class MemoryTarget implements BackupTarget {
  readonly location: string;
  readonly objects = new Map<string, Buffer>();
  readonly events: string[] = [];

  constructor(
    readonly name: string,
    private readonly corrupt = false,
    /** Confirms its writes itself, as S3 with `confirm: checksum` does; `lie` misstates the size. */
    private readonly receipts?: { lie?: number },
  ) {
    this.location = `memory://${name}`;
  }

  async check(): Promise<void> {}

  async write(key: string): Promise<TargetWrite> {
    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    return {
      stream,
      commit: async () => {
        const body = Buffer.concat(chunks);
        this.objects.set(key, body);
        this.events.push(`commit ${key.split('/').at(-1)}`);
        if (!this.receipts) return undefined;
        return { bytes: body.length + (this.receipts.lie ?? 0), checked: 'Content-MD5 of every part, size' };
      },
      abort: async () => {
        this.objects.delete(key);
      },
    };
  }

  async put(key: string, body: string | Buffer): Promise<void> {
    this.objects.set(key, Buffer.from(body));
  }

  async read(key: string): Promise<Readable> {
    this.events.push(`read ${key.split('/').at(-1)}`);
    const copy = Buffer.from(this.objects.get(key) ?? Buffer.alloc(0));
    if (this.corrupt && copy.length) copy[copy.length >> 1] = (copy[copy.length >> 1] as number) ^ 1;
    return Readable.from([copy]);
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

const tar = (fill: string) => Buffer.alloc(64 * 1024, fill);

function volume(name: string): Asset {
  return {
    kind: 'volume',
    name,
    volume: name,
    labels: { tier: 'important' },
    usedBy: [],
  } as unknown as Asset;
}

/** Volumes as tar streams; the ones in `gated` end only when `open()` is called. */
function fakeRuntime(gated: Set<string> = new Set()) {
  const gates: Array<() => void> = [];
  const runtime = {
    async exportVolume(name: string) {
      if (!gated.has(name))
        return { stream: Readable.from([tar(name[0] as string)]), done: Promise.resolve() };
      const stream = new PassThrough();
      stream.write(tar(name[0] as string));
      gates.push(() => stream.end());
      return { stream, done: Promise.resolve() };
    },
  } as unknown as ContainerRuntime;
  return {
    runtime,
    open: () => {
      for (const g of gates.splice(0)) g();
    },
  };
}

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

function setUp(targets: MemoryTarget[], runtime: ContainerRuntime, compressor = 'zlib') {
  const dir = mkdtempSync(join(tmpdir(), 'drbot-set-writer-'));
  const store = openSqliteStore(join(dir, 'state.sqlite'));
  closers.push(() => store.close());
  const config = buildConfig({ backup: { compressor } }, join(dir, 'drbot.yaml'));
  const log = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'silent' });
  const deps: EngineDeps = { config, runtime, targets, store, clock: systemClock, log };
  const run = store.createRun({
    kind: 'backup',
    requester: 'test',
    target: 'all',
    status: 'running',
    at: new Date(),
  });
  const ctx = new RunContext(run, store, systemClock, log);
  const phases: string[] = [];
  const write = (assets: Asset[]) =>
    writeSet(deps, ctx, {
      assets,
      purpose: 'backup',
      at: new Date(),
      targets,
      phase: async (name, fn) => {
        phases.push(name);
        return fn(log);
      },
    });
  return { store, write, phases };
}

describe('writeSet', () => {
  it('reads each artifact back as soon as its own upload is committed, then completes the set', async () => {
    const local = new MemoryTarget('local');
    const s3 = new MemoryTarget('s3');
    const fake = fakeRuntime(new Set(['slow']));
    const { store, write, phases } = setUp([local, s3], fake.runtime);

    const written = write([volume('fast'), volume('slow')]);
    // 'slow' is still being archived, yet 'fast' has already been read back from both targets.
    await expect.poll(() => s3.events).toContain('read fast.tar.gz');
    expect(local.events).toContain('read fast.tar.gz');
    expect(s3.events).not.toContain('commit slow.tar.gz');
    fake.open();
    const set = await written;

    expect(phases).toEqual(['dump', 'verify']);
    expect(store.getSet(set.setId)?.status).toBe('complete');
    const keys = [...s3.objects.keys()].filter((k) => k.includes(`/${set.setId}/`));
    expect(keys.map((k) => k.split('/').at(-1)).sort()).toEqual([
      'SHA256SUMS',
      'fast.tar.gz',
      'manifest.json',
      'slow.tar.gz',
    ]);
    // Beside the set's directory, never in it: the snapshot of the state that knows this set.
    expect([...s3.objects.keys()].filter((k) => !keys.includes(k))).toEqual([
      `drbot-state/${set.setId}.sqlite.gz`,
    ]);
    const fastKey = [...local.objects.keys()].find((k) => k.endsWith('fast.tar.gz')) as string;
    expect(gunzipSync(local.objects.get(fastKey) as Buffer).equals(tar('f'))).toBe(true);
  });

  it('fails the set when one target reads back different bytes, naming it, and removes every file', async () => {
    const local = new MemoryTarget('local');
    const s3 = new MemoryTarget('s3', true);
    const { store, write } = setUp([local, s3], fakeRuntime().runtime);

    const err = await write([volume('fast'), volume('other')]).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(SetWriteError);
    expect((err as SetWriteError).code).toBe('CHECKSUM_MISMATCH');
    expect((err as SetWriteError).message).toMatch(
      /^s3: \S+\.tar\.gz reads back as \d+ bytes sha256 [0-9a-f]{12}…, expected/,
    );
    expect(store.getSet((err as SetWriteError).setId)?.status).toBe('failed');
    expect([...local.objects.keys(), ...s3.objects.keys()]).toEqual([]);
  });

  it('reports the source failure, not the compressor it cut off, when a volume stream breaks', async () => {
    const local = new MemoryTarget('local');
    const broken = {
      async exportVolume() {
        const stream = new PassThrough();
        stream.write(tar('b'));
        setTimeout(
          () =>
            stream.destroy(
              externalError(ErrorCode.ARCHIVE_FAILED, 'volume broken went away mid-archive', {
                asset: 'broken',
                step: 'archive',
              }),
            ),
          50,
        );
        return { stream, done: Promise.resolve() };
      },
    } as unknown as ContainerRuntime;
    const { write } = setUp([local], broken, 'igzip');

    const err = await write([volume('broken')]).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect((err as SetWriteError).code).toBe('ARCHIVE_FAILED');
    expect((err as SetWriteError).message).toContain('went away mid-archive');
    expect((err as SetWriteError).message).not.toContain('igzip');
  });

  it('does not read back from a target that confirmed its writes itself, and says how each was confirmed', async () => {
    const local = new MemoryTarget('local');
    const s3 = new MemoryTarget('s3', true, {}); // would read back corrupt: it must not be read
    const { store, write } = setUp([local, s3], fakeRuntime().runtime);

    const set = await write([volume('fast'), volume('other')]);

    expect(store.getSet(set.setId)?.status).toBe('complete');
    expect(s3.events.filter((e) => e.startsWith('read'))).toEqual([]);
    expect(local.events.filter((e) => e.startsWith('read')).sort()).toEqual([
      'read fast.tar.gz',
      'read other.tar.gz',
    ]);
    for (const a of store.getSet(set.setId)?.artifacts ?? [])
      expect(a.locations.map((l) => [l.target, l.status]).sort()).toEqual([
        ['local', 'confirmed'],
        ['s3', 'confirmed'],
      ]);
    const said = store.events(store.getSet(set.setId)?.runId as string).map((e) => e.message);
    expect(said).toContain(
      'checksums confirmed for 2 artifact(s) on local (read back, sha256), s3 (Content-MD5 of every part, size)',
    );
  });

  it('fails the set when a target confirms another size than was written', async () => {
    const local = new MemoryTarget('local');
    const s3 = new MemoryTarget('s3', false, { lie: -3 });
    const { store, write } = setUp([local, s3], fakeRuntime().runtime);

    const err = (await write([volume('fast')]).catch((e: unknown) => e)) as SetWriteError;

    expect(err.code).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toMatch(/^s3: \S+\/fast\.tar\.gz is stored as (\d+) bytes, expected (\d+)$/);
    const [, got, want] = /as (\d+) bytes, expected (\d+)/.exec(err.message) as RegExpExecArray;
    expect(Number(got)).toBe(Number(want) - 3);
    expect(store.getSet(err.setId)?.status).toBe('failed');
    expect([...local.objects.keys(), ...s3.objects.keys()]).toEqual([]);
  });
});
