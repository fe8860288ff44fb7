import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { buildConfig } from '../../../../src/config.js';
import type { Asset } from '../../../../src/domain/assets.js';
import { writeSet } from '../../../../src/engine/backup/set-writer.js';
import type { EngineDeps } from '../../../../src/engine/deps.js';
import { type ArtifactProgress, RunContext } from '../../../../src/engine/runs/run-context.js';
import { createLogger } from '../../../../src/log.js';
import type { BackupTarget } from '../../../../src/ports/backup-target.js';
import { systemClock } from '../../../../src/ports/clock.js';
import type { ContainerRuntime } from '../../../../src/ports/container-runtime.js';

/** A target that keeps what it is given, in memory. */
function memoryTarget(): BackupTarget {
  const objects = new Map<string, Buffer>();
  return {
    name: 'local',
    location: 'memory://local',
    check: async () => undefined,
    write: async (key) => {
      const chunks: Buffer[] = [];
      return {
        stream: new Writable({
          write(chunk: Buffer, _e, cb) {
            chunks.push(chunk);
            cb();
          },
        }),
        commit: async () => {
          objects.set(key, Buffer.concat(chunks));
          return undefined;
        },
        abort: async () => undefined,
      };
    },
    put: async (key, body) => {
      objects.set(key, Buffer.from(body));
    },
    read: async (key) => Readable.from([objects.get(key) ?? Buffer.alloc(0)]),
    readVersion: async (key) => ({
      stream: Readable.from([objects.get(key) ?? Buffer.alloc(0)]),
      version: '1',
    }),
    delete: async (key) => {
      objects.delete(key);
    },
    list: async (prefix) => [...objects.keys()].filter((k) => k.startsWith(prefix)),
  } as BackupTarget;
}

describe('writeSet progress', () => {
  it('tells the run’s observer how many bytes of each volume it archived, as the bytes flow', async () => {
    const archive = Buffer.alloc(256 * 1024, 'v');
    const runtime = {
      exportVolume: async () => ({ stream: Readable.from([archive]), done: Promise.resolve() }),
      listContainers: async () => [],
    } as unknown as ContainerRuntime;
    const store = openSqliteStore(':memory:');
    const log = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'silent' });
    const target = memoryTarget();
    const deps: EngineDeps = {
      config: buildConfig({ backup: { compressor: 'zlib' } }, '/tmp/drbot.yaml'),
      runtime,
      targets: [target],
      store,
      clock: systemClock,
      log,
    };
    const run = store.createRun({
      kind: 'backup',
      requester: 't',
      target: 'all',
      status: 'running',
      at: new Date(),
    });
    const heard: ArtifactProgress[] = [];
    const ctx = new RunContext(run, store, systemClock, log, { onProgress: (_r, p) => heard.push(p) });
    const volume = {
      kind: 'volume',
      name: 'uploads',
      volume: 'uploads',
      labels: {},
      usedBy: [],
    } as unknown as Asset;

    await writeSet(deps, ctx, {
      assets: [volume],
      purpose: 'safety',
      at: new Date(),
      targets: [target],
      phase: (name, fn) => ctx.stage(name, fn),
    });

    expect(heard.at(-1)).toMatchObject({
      asset: 'uploads',
      action: 'archive',
      stage: 'dump',
      bytes: archive.length,
      done: true,
    });
  });
});
