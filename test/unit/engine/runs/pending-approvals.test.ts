// Runs left waiting for approval by a process that let go: settled when nobody can approve them, cancel, the lock.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../../src/engine/engine.js';
import { acquireAssets } from '../../../../src/engine/runs/locks.js';
import { settleOrphanedApprovals } from '../../../../src/engine/runs/pending-approvals.js';
import { MINUTE, reportDeps } from '../../../fixtures/report-deps.js';

const NOW = new Date('2026-06-01T10:00:00Z');

function world() {
  const { deps, store } = reportDeps({}, NOW);
  /** A restore of `asset` waiting for approval, its process gone (it let go, as at a stop). */
  const waiting = (asset: string, card?: { posted: boolean; expiresAt: Date }) => {
    const run = store.createRun({
      kind: 'restore',
      requester: 'U0OPS',
      target: asset,
      status: 'pending-approval',
      at: NOW,
    });
    store.updateRun(run.id, { result: { assets: [asset], request: { scope: `asset:${asset}` } } });
    if (card)
      store.saveApproval({
        runId: run.id,
        requester: 'U0OPS',
        channel: 'C0OPS',
        messageTs: card.posted ? '1.2' : undefined,
        fingerprint: 'plan',
        createdAt: new Date(NOW.getTime() - 10 * MINUTE),
        expiresAt: card.expiresAt,
      });
    store.releaseRun(run.id);
    return run;
  };
  return { deps, store, waiting };
}

describe('settleOrphanedApprovals', () => {
  it('ends what nobody can approve any more and leaves cards that can still be acted on', () => {
    const { deps, store, waiting } = world();
    const noCard = waiting('a');
    const unposted = waiting('b', { posted: false, expiresAt: new Date(NOW.getTime() + MINUTE) });
    const expired = waiting('c', { posted: true, expiresAt: NOW });
    const withdrawn = waiting('d', { posted: true, expiresAt: new Date(NOW.getTime() + MINUTE) });
    store.requestCancel(withdrawn.id, 'U0OPS', NOW);
    const open = waiting('e', { posted: true, expiresAt: new Date(NOW.getTime() + MINUTE) });
    const live = store.createRun({
      kind: 'restore',
      requester: 'U0OPS',
      target: 'f',
      status: 'pending-approval',
      at: NOW,
    });

    const settled = settleOrphanedApprovals(deps);

    expect(settled.map((r) => [r.id, r.status])).toEqual([
      [noCard.id, 'interrupted'],
      [unposted.id, 'interrupted'],
      [expired.id, 'expired'],
      [withdrawn.id, 'cancelled'],
    ]);
    expect(store.getRun(open.id)?.status).toBe('pending-approval');
    expect(store.getRun(live.id)?.status).toBe('pending-approval');
    // An unposted card has nothing to show; a posted one stays until the card shows the outcome.
    expect(store.approvals().map((a) => a.runId)).toEqual([expired.id, withdrawn.id, open.id]);
  });
});

describe('Engine.cancel of a run whose process let go', () => {
  it('withdraws its approval at once, and the asset is free again', () => {
    const { deps, store, waiting } = world();
    const engine = new Engine(deps);
    const run = waiting('main', { posted: true, expiresAt: new Date(NOW.getTime() + 30 * MINUTE) });
    const start = () =>
      acquireAssets(deps, 'restore', ['main'], () =>
        store.createRun({ kind: 'restore', requester: 'cli', target: 'main', status: 'running', at: NOW }),
      );
    expect(start).toThrow(/asset 'main' is busy: run-1 \(restore\) is in progress, waiting for approval/);

    const { message } = engine.cancel(run.id, 'cli:ops');

    expect(message).toBe(`${run.id}: the approval request is withdrawn`);
    expect(store.getRun(run.id)).toMatchObject({
      status: 'cancelled',
      error: 'withdrawn: cancelled by cli:ops',
    });
    expect(start().id).toBe('run-2');
  });
});
