// Unit tests of the clean-up of what stopped runs left: who owns what, and what is never touched.
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { removeDebris, setIdOfKey } from '../../../../src/engine/runs/cleanup.js';
import { createLogger } from '../../../../src/log.js';
import type { BackupTarget, IncompleteWrite } from '../../../../src/ports/backup-target.js';
import type { Clock } from '../../../../src/ports/clock.js';
import type { ContainerRuntime, HelperObject } from '../../../../src/ports/container-runtime.js';

const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

/** A pid that belonged to a process which has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  if (child.pid === undefined) throw new Error('could not start a child process');
  return child.pid;
}

/** The real SQLite store in memory, with a handle to set a run's owning process. */
function stateWith() {
  const db = new Database(':memory:');
  migrate(db);
  const store = new SqliteStore(db);
  const run = (createdAt: Date, status: 'running' | 'succeeded' | 'interrupted' = 'running') => {
    const r = store.createRun({
      kind: 'backup',
      requester: 'test',
      target: 'all',
      status: 'running',
      at: createdAt,
    });
    if (status !== 'running') store.updateRun(r.id, { status });
    return r.id;
  };
  const owner = (runId: string, value: string) =>
    db.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(value, runId);
  return { store, run, owner };
}

/** A target holding unfinished writes; it removes those the clean-up picks, as the port says. */
function targetWith(name: string, writes: IncompleteWrite[]) {
  const left = [...writes];
  const asked: string[] = [];
  const target = {
    name,
    async removeIncomplete(isDebris: (w: IncompleteWrite) => boolean) {
      const picked = left.filter((w) => {
        asked.push(w.key);
        return isDebris(w);
      });
      for (const w of picked) left.splice(left.indexOf(w), 1);
      return { removed: picked.map((w) => `${name}: ${w.key}.partial`), problems: [] };
    },
  };
  return { target: target as unknown as BackupTarget, left, asked };
}

function helper(overrides: Partial<HelperObject> & Pick<HelperObject, 'name'>): HelperObject {
  return {
    kind: 'container',
    ref: overrides.name,
    role: 'scratch',
    runId: undefined,
    volume: undefined,
    createdBy: at(0),
    inUse: false,
    ...overrides,
  };
}

/** A container engine holding drbot's helpers; records removals in order. */
function runtimeWith(helpers: HelperObject[], options: { unreachable?: boolean } = {}) {
  const removed: string[] = [];
  const runtime = {
    async listHelpers() {
      if (options.unreachable) throw new Error('connect ENOENT /var/run/docker.sock');
      return helpers.filter((h) => !removed.includes(`${h.kind} ${h.ref}`));
    },
    async removeContainer(ref: string) {
      removed.push(`container ${ref}`);
    },
    async removeVolume(ref: string) {
      removed.push(`volume ${ref}`);
    },
  };
  return { runtime: runtime as unknown as ContainerRuntime, removed };
}

const clockAt = (now: Date): Clock => ({ now: () => now, monotonic: () => 0, sleep: async () => {} });
const quiet = createLogger({ level: 'silent' });

const key = (setId: string, file = 'mysql-prod.sql.gz') => `2026/06/01/${setId}/${file}`;

describe('setIdOfKey', () => {
  it('finds the set of artifacts, manifests and state snapshots, and nothing in other keys', () => {
    expect(setIdOfKey('2026/06/01/set-20260601-100000-3fa9/app-data.tar.gz')).toBe(
      'set-20260601-100000-3fa9',
    );
    expect(setIdOfKey('2026/06/01/set-20260601-100000-3fa9/manifest.json')).toBe('set-20260601-100000-3fa9');
    expect(setIdOfKey('drbot-state/set-20260601-100000-3fa9.sqlite.gz')).toBe('set-20260601-100000-3fa9');
    expect(setIdOfKey('someone-elses/upload.bin')).toBeUndefined();
    expect(setIdOfKey('2026/06/01/not-a-set/x.sql.gz')).toBeUndefined();
    expect(setIdOfKey('2026/06/set-20260601-100000-3fa9/x.sql.gz')).toBeUndefined();
  });
});

describe('removeDebris: unfinished writes on the targets', () => {
  it("removes the partial files and uploads of a stopped run's set, and leaves a live run's alone", async () => {
    const { store, run } = stateWith();
    const stopped = run(at(0), 'interrupted');
    const live = run(at(10));
    store.createSet({ id: 'set-20260601-100000-0001', runId: stopped, createdAt: at(0) });
    store.createSet({ id: 'set-20260601-100010-0002', runId: live, createdAt: at(10) });
    const local = targetWith('local', [
      { key: key('set-20260601-100000-0001'), startedBy: at(1) },
      { key: key('set-20260601-100010-0002'), startedBy: at(11) },
    ]);
    const s3 = targetWith('s3', [
      { key: key('set-20260601-100000-0001'), startedBy: at(3601) },
      { key: 'drbot-state/set-20260601-100010-0002.sqlite.gz', startedBy: at(3611) },
    ]);
    const { runtime } = runtimeWith([]);

    const report = await removeDebris({
      store,
      runtime,
      targets: [local.target, s3.target],
      clock: clockAt(at(60)),
      log: quiet,
    });

    expect(report.removed).toEqual([
      `local: ${key('set-20260601-100000-0001')}.partial`,
      `s3: ${key('set-20260601-100000-0001')}.partial`,
    ]);
    expect(local.left.map((w) => w.key)).toEqual([key('set-20260601-100010-0002')]);
    expect(s3.left.map((w) => w.key)).toEqual(['drbot-state/set-20260601-100010-0002.sqlite.gz']);
    expect(report.problems).toEqual([]);
  });

  it('removes writes of sets it does not know only when begun before the oldest live run, never keys outside its layout', async () => {
    const { store, run } = stateWith();
    run(at(100)); // live since T0 + 100 s
    const local = targetWith('local', [
      { key: key('set-20260601-095000-aaaa'), startedBy: at(99) },
      { key: key('set-20260601-100200-bbbb'), startedBy: at(101) },
      { key: 'other-tool/big.bin', startedBy: at(-86_400) },
    ]);
    const { runtime } = runtimeWith([]);

    const report = await removeDebris({
      store,
      runtime,
      targets: [local.target],
      clock: clockAt(at(300)),
      log: quiet,
    });

    expect(report.removed).toEqual([`local: ${key('set-20260601-095000-aaaa')}.partial`]);
    expect(local.left.map((w) => w.key)).toEqual([key('set-20260601-100200-bbbb'), 'other-tool/big.bin']);
  });

  it('judges a run of another process by that process: dead is done, alive or on another host is live', async () => {
    const { store, run, owner } = stateWith();
    const dead = run(at(0));
    const neighbour = run(at(0));
    const remote = run(at(0));
    owner(dead, `${hostname()}:${deadPid()}`);
    owner(neighbour, `${hostname()}:${process.ppid}`);
    owner(remote, `another-host-${hostname()}:1`);
    store.createSet({ id: 'set-20260601-100000-000d', runId: dead, createdAt: at(0) });
    store.createSet({ id: 'set-20260601-100000-000a', runId: neighbour, createdAt: at(0) });
    store.createSet({ id: 'set-20260601-100000-000b', runId: remote, createdAt: at(0) });
    const local = targetWith('local', [
      { key: key('set-20260601-100000-000d'), startedBy: at(1) },
      { key: key('set-20260601-100000-000a'), startedBy: at(1) },
      { key: key('set-20260601-100000-000b'), startedBy: at(1) },
    ]);
    const { runtime } = runtimeWith([]);

    const report = await removeDebris({
      store,
      runtime,
      targets: [local.target],
      clock: clockAt(at(60)),
      log: quiet,
    });

    expect(report.removed).toEqual([`local: ${key('set-20260601-100000-000d')}.partial`]);
  });

  it('reports a target it cannot list as a problem and still cleans up the others', async () => {
    const { store, run } = stateWith();
    const stopped = run(at(0), 'interrupted');
    store.createSet({ id: 'set-20260601-100000-0001', runId: stopped, createdAt: at(0) });
    const broken = {
      name: 's3',
      removeIncomplete: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:9');
      },
    } as unknown as BackupTarget;
    const local = targetWith('local', [{ key: key('set-20260601-100000-0001'), startedBy: at(1) }]);
    const { runtime } = runtimeWith([], { unreachable: true });

    const report = await removeDebris({
      store,
      runtime,
      targets: [broken, local.target],
      clock: clockAt(at(60)),
      log: quiet,
    });

    expect(report.removed).toEqual([`local: ${key('set-20260601-100000-0001')}.partial`]);
    expect(report.problems).toEqual([
      expect.stringMatching(/^s3: could not look for unfinished writes: .*ECONNREFUSED/),
      expect.stringMatching(/^Docker: could not look for drbot's leftover containers and volumes: .*ENOENT/),
    ]);
  });
});

describe('removeDebris: helper containers and volumes', () => {
  it("removes a stopped run's scratch, containers before volumes, and keeps a live run's", async () => {
    const { store, run } = stateWith();
    const stopped = run(at(0), 'interrupted');
    const finished = run(at(0), 'succeeded');
    const live = run(at(0));
    const { runtime, removed } = runtimeWith([
      helper({ kind: 'volume', name: 'drbot-restore-x', runId: stopped }),
      helper({ name: 'drbot-verify-x', runId: stopped }),
      helper({ name: 'helper-rm', runId: finished }),
      helper({ kind: 'volume', name: 'drbot-verify-live', runId: live }),
      helper({ name: 'drbot-verify-live-db', runId: live }),
    ]);

    const report = await removeDebris({ store, runtime, targets: [], clock: clockAt(at(60)), log: quiet });

    expect(removed).toEqual(['container drbot-verify-x', 'container helper-rm', 'volume drbot-restore-x']);
    expect(report.removed).toEqual([
      `container drbot-verify-x (scratch of ${stopped})`,
      `container helper-rm (scratch of ${finished})`,
      `volume drbot-restore-x (scratch of ${stopped})`,
    ]);
  });

  it('removes volume anchors made before the oldest live run, and never one this process is using', async () => {
    const { store, run } = stateWith();
    run(at(100));
    const { runtime, removed } = runtimeWith([
      helper({ name: 'old-anchor', ref: 'c1', role: 'anchor', volume: 'app-data', createdBy: at(50) }),
      helper({ name: 'new-anchor', ref: 'c2', role: 'anchor', volume: 'app-data', createdBy: at(150) }),
      helper({
        name: 'busy-anchor',
        ref: 'c3',
        role: 'anchor',
        volume: 'uploads',
        createdBy: at(50),
        inUse: true,
      }),
      helper({ name: 'undated-anchor', ref: 'c4', role: 'anchor', volume: 'logs', createdBy: undefined }),
    ]);

    const report = await removeDebris({ store, runtime, targets: [], clock: clockAt(at(300)), log: quiet });

    expect(removed).toEqual(['container c1']);
    expect(report.removed).toEqual([
      'container old-anchor (anchor of volume app-data, which it kept in use)',
    ]);
  });

  it('with no live run, removes anchors and scratch of unknown runs made before the clean-up began', async () => {
    const { store } = stateWith();
    const { runtime, removed } = runtimeWith([
      helper({ name: 'anchor', role: 'anchor', volume: 'app-data', createdBy: at(59) }),
      helper({ kind: 'volume', name: 'lost-scratch', runId: 'run-99', createdBy: at(10) }),
      helper({ name: 'just-made', role: 'anchor', volume: 'app-data', createdBy: at(61) }),
    ]);

    await removeDebris({ store, runtime, targets: [], clock: clockAt(at(60)), log: quiet });

    expect(removed).toEqual(['container anchor', 'volume lost-scratch']);
  });
});
