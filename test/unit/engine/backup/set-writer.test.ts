// writeSet: each artifact streamed to every target at once, confirmed as soon as it is committed, complete or removed.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { buildConfig } from '../../../../src/config.js';
import type { Asset } from '../../../../src/domain/assets.js';
import { SetWriteError, writeSet } from '../../../../src/engine/backup/set-writer.js';
import type { EngineDeps } from '../../../../src/engine/deps.js';
import { RunContext } from '../../../../src/engine/runs/run-context.js';
import { ErrorCode, externalError } from '../../../../src/errors.js';
import { createLogger } from '../../../../src/log.js';
import { systemClock } from '../../../../src/ports/clock.js';
import { FakeRuntime } from '../../../fakes/fake-runtime.js';
import { tarFiles } from '../../../fakes/fake-tar.js';
import { FakeTarget } from '../../../fakes/fake-target.js';

/** What each volume holds: one 64 KiB file filled with the volume's initial. */
const content = (name: string) => (name[0] as string).repeat(64 * 1024);

function volume(name: string): Asset {
  return {
    kind: 'volume',
    name,
    volume: name,
    labels: { tier: 'important' },
    usedBy: [],
  } as unknown as Asset;
}

function volumes(...names: string[]): FakeRuntime {
  const runtime = new FakeRuntime();
  for (const name of names)
    runtime.addVolume(name, { labels: { tier: 'important' }, files: { 'data.bin': content(name) } });
  return runtime;
}

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

function setUp(targets: FakeTarget[], runtime: FakeRuntime, compressor = 'zlib') {
  const store = openSqliteStore(':memory:');
  closers.push(() => store.close());
  const config = buildConfig({ backup: { compressor } });
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
    const local = new FakeTarget('local');
    const s3 = new FakeTarget('s3');
    const runtime = volumes('fast', 'slow');
    const open = runtime.holdExport('slow');
    const { store, write, phases } = setUp([local, s3], runtime);

    const written = write([volume('fast'), volume('slow')]);
    // 'slow' is still being archived, yet 'fast' has already been read back from both targets.
    await expect.poll(() => s3.files('read')).toContain('fast.tar.gz');
    expect(local.files('read')).toContain('fast.tar.gz');
    expect(s3.files('commit')).not.toContain('slow.tar.gz');
    open();
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
    expect(await tarFiles(local.object('fast.tar.gz') as Buffer)).toEqual({ 'data.bin': content('fast') });
  });

  it('fails the set when one target reads back different bytes, naming it, and removes every file', async () => {
    const local = new FakeTarget('local');
    const s3 = new FakeTarget('s3');
    s3.corruptReads();
    const { store, write } = setUp([local, s3], volumes('fast', 'other'));

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
    const local = new FakeTarget('local');
    const runtime = volumes('broken');
    runtime.failExport('broken', {
      afterBytes: 32 * 1024,
      delayMs: 50,
      error: externalError(ErrorCode.ARCHIVE_FAILED, 'volume broken went away mid-archive', {
        asset: 'broken',
        step: 'archive',
      }),
    });
    const { write } = setUp([local], runtime, 'igzip');

    const err = await write([volume('broken')]).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect((err as SetWriteError).code).toBe('ARCHIVE_FAILED');
    expect((err as SetWriteError).message).toContain('went away mid-archive');
    expect((err as SetWriteError).message).not.toContain('igzip');
  });

  it('does not read back from a target that confirmed its writes itself, and says how each was confirmed', async () => {
    const local = new FakeTarget('local');
    const s3 = new FakeTarget('s3', { receipts: {} });
    s3.corruptReads(); // it must not be read: what it would hand back is corrupt
    const { store, write } = setUp([local, s3], volumes('fast', 'other'));

    const set = await write([volume('fast'), volume('other')]);

    expect(store.getSet(set.setId)?.status).toBe('complete');
    expect(s3.files('read')).toEqual([]);
    expect(local.files('read').sort()).toEqual(['fast.tar.gz', 'other.tar.gz']);
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
    const local = new FakeTarget('local');
    const s3 = new FakeTarget('s3', { receipts: { lie: -3 } });
    const { store, write } = setUp([local, s3], volumes('fast'));

    const err = (await write([volume('fast')]).catch((e: unknown) => e)) as SetWriteError;

    expect(err.code).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toMatch(/^s3: \S+\/fast\.tar\.gz is stored as (\d+) bytes, expected (\d+)$/);
    const [, got, want] = /as (\d+) bytes, expected (\d+)/.exec(err.message) as RegExpExecArray;
    expect(Number(got)).toBe(Number(want) - 3);
    expect(store.getSet(err.setId)?.status).toBe('failed');
    expect([...local.objects.keys(), ...s3.objects.keys()]).toEqual([]);
  });
});
