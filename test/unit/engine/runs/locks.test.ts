import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { acquireAssets } from '../../../../src/engine/runs/locks.js';

function store() {
  return openSqliteStore(':memory:');
}

describe('acquireAssets: one run per asset', () => {
  it('refuses a second restore of an asset, naming the run in progress, and allows it after release', () => {
    const s = store();
    const first = acquireAssets({ store: s }, 'restore', ['main']);
    first.bind('run-1');

    expect(() => acquireAssets({ store: s }, 'restore', ['main', 'other'])).toThrow(
      /asset 'main' is busy: run-1 \(restore\) is in progress/,
    );
    first.release();
    expect(() => acquireAssets({ store: s }, 'restore', ['main']).release()).not.toThrow();
  });

  it('lets a backup run while a restore only waits for approval, never while it replaces data', () => {
    const s = store();
    const run = s.createRun({
      kind: 'restore',
      requester: 'u',
      target: 'db-only',
      status: 'pending-approval',
      at: new Date(),
    });
    const lock = acquireAssets({ store: s }, 'restore', ['main']);
    lock.bind(run.id);

    const backup = acquireAssets({ store: s }, 'backup', ['main']);
    backup.release();
    s.updateRun(run.id, { status: 'running' });

    expect(() => acquireAssets({ store: s }, 'backup', ['main'])).toThrow(/busy: run-1 \(restore\)/);
    lock.release();
  });

  it('does not let two backups of one asset overlap, but lets different assets run together', () => {
    const s = store();
    const a = acquireAssets({ store: s }, 'backup', ['main']);

    expect(() => acquireAssets({ store: s }, 'backup', ['main'])).toThrow(/asset 'main' is busy/);
    expect(() => acquireAssets({ store: s }, 'backup', ['files']).release()).not.toThrow();
    a.release();
  });

  it('sees runs of other processes through the state file', () => {
    const s = store();
    const run = s.createRun({
      kind: 'restore',
      requester: 'u',
      target: 'full',
      status: 'running',
      at: new Date(),
    });
    s.updateRun(run.id, { result: { assets: ['app-data'] } });

    expect(() => acquireAssets({ store: s }, 'backup', ['app-data'])).toThrow(
      /asset 'app-data' is busy: run-1 \(restore\)/,
    );
  });
});
