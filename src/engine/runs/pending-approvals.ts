// Runs waiting for approval whose process is gone: settled, or left for their card to be acted on.
import type { Run } from '../../domain/runs.js';
import type { EngineDeps } from '../deps.js';
import type { ApprovalDecision } from './approval.js';
import { orphanOutcome } from './approval-rules.js';

/**
 * Runs a process that is gone left `pending-approval`: each is settled (interrupted without a
 * card to act on, cancelled when withdrawn, expired once its card has) or, while its card can
 * still be acted on, left for the app that owns approvals to take up on a click. Returns the
 * runs settled now. Safe from any process at any time: a run a live process waits on is skipped.
 */
export function settleOrphanedApprovals(deps: Pick<EngineDeps, 'store' | 'clock'>): Run[] {
  const { store } = deps;
  const now = deps.clock.now();
  const settled: Run[] = [];
  for (const { run, ownerLive, approval } of store.activeRuns()) {
    if (run.status !== 'pending-approval' || ownerLive) continue;
    const outcome = orphanOutcome(approval, store.cancelRequested(run.id), now);
    if (!outcome) continue;
    const done = store.settlePending(run.id, { ...outcome, at: now });
    if (!done) continue;
    settled.push(done);
    // A card that was never posted has nothing to show the outcome on.
    if (approval && !approval.messageTs) store.closeApproval(run.id);
  }
  return settled;
}

/**
 * Ends the approval of a run no live process waits on with `decision` (a click on its card
 * after a restart: rejected, void or expired). Undefined, changing nothing, when a live process
 * waits on it (its own gate decides) or it is no longer pending.
 */
export function settleOrphan(
  deps: Pick<EngineDeps, 'store'>,
  runId: string,
  decision: Extract<ApprovalDecision, { approved: false }>,
): Run | undefined {
  if (decision.status === 'pending-approval') return undefined;
  return deps.store.settlePending(runId, {
    status: decision.status,
    at: decision.at,
    reason: decision.reason,
    by: decision.by,
  });
}
