// Retention against the state: sets a waiting or working run will read, and assets no longer backed up, are kept.
import { describe, expect, it } from 'vitest';
import type { SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { pruneExpired } from '../../../../src/engine/catalog/prune.js';
import { recordSet, reportDeps } from '../../../fixtures/report-deps.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date('2026-03-10T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

/** A run context that keeps what the prune says. */
function recordingCtx() {
  const lines: string[] = [];
  const ctx = {
    info: (m: string) => lines.push(m),
    warn: (m: string) => lines.push(m),
    error: (m: string) => lines.push(m),
  };
  return { ctx: ctx as never, lines };
}

/** app-data (7 days' retention) with sets 30, 20 and 1 day(s) old; none deep-verified. */
function appDataHistory(labels: Record<string, string> = {}) {
  const { deps, store } = reportDeps(
    { 'app-data': { tier: 'important', retention: '7days', ...labels } },
    NOW,
  );
  recordSet(store, 'set-old', 'app-data', ago(30 * DAY), { deepVerified: false });
  recordSet(store, 'set-mid', 'app-data', ago(20 * DAY), { deepVerified: false });
  recordSet(store, 'set-new', 'app-data', ago(1 * DAY), { deepVerified: false });
  return { deps, store };
}

function statuses(store: SqliteStore): Record<string, string> {
  return Object.fromEntries(
    ['set-old', 'set-mid', 'set-new'].map((id) => [id, store.getSet(id)?.status as string]),
  );
}

describe('pruneExpired', () => {
  it('keeps the set of a restore --from waiting for approval, and prunes the other expired one', async () => {
    const { deps, store } = appDataHistory();
    const waiting = store.createRun({
      kind: 'restore',
      requester: 'U0REQ',
      target: 'app-data --from set-old',
      status: 'pending-approval',
      at: ago(DAY / 24),
    });
    const { ctx, lines } = recordingCtx();

    const report = await pruneExpired(deps, ctx);

    expect(report.deleted).toEqual([{ setId: 'set-mid', asset: 'app-data' }]);
    expect(statuses(store)).toEqual({ 'set-old': 'complete', 'set-mid': 'pruned', 'set-new': 'complete' });
    expect(lines).toContain(
      `kept set-old although expired: ${waiting.id} (restore app-data --from set-old, pending-approval) will read it`,
    );
  });

  it('keeps the sets in the plan of a running restore', async () => {
    const { deps, store } = appDataHistory();
    const running = store.createRun({
      kind: 'restore',
      requester: 'U0REQ',
      target: 'full',
      status: 'running',
      at: ago(DAY / 24),
    });
    store.updateRun(running.id, {
      result: { assets: ['app-data'], plan: { assets: [{ asset: 'app-data', setId: 'set-mid' }] } as never },
    });
    const { ctx } = recordingCtx();

    await pruneExpired(deps, ctx);

    expect(statuses(store)).toEqual({ 'set-old': 'pruned', 'set-mid': 'complete', 'set-new': 'complete' });
  });

  it('no longer protects a set once the run that named it has finished', async () => {
    const { deps, store } = appDataHistory();
    const done = store.createRun({
      kind: 'restore',
      requester: 'U0REQ',
      target: 'app-data --from set-old',
      status: 'pending-approval',
      at: ago(DAY / 24),
    });
    store.updateRun(done.id, { status: 'rejected' });
    const { ctx } = recordingCtx();

    await pruneExpired(deps, ctx);

    expect(statuses(store)).toEqual({ 'set-old': 'pruned', 'set-mid': 'pruned', 'set-new': 'complete' });
  });

  it('keeps the whole history of an asset that became backup=none', async () => {
    const { deps, store } = appDataHistory({ backup: 'none' });
    const { ctx } = recordingCtx();

    const report = await pruneExpired(deps, ctx);

    expect(report.deleted).toEqual([]);
    expect(statuses(store)).toEqual({ 'set-old': 'complete', 'set-mid': 'complete', 'set-new': 'complete' });
  });
});
