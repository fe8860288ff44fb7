// Approval rules as pure functions of the time: two-person rule, who may decide, plan binding, expiry.
import { formatSpan } from '../../domain/duration.js';
import type { RestorePlan } from '../../domain/restore-plan.js';
import type { Run } from '../../domain/runs.js';
import type { ApprovalRecord } from '../../ports/state-store.js';
import type { ApprovalDecision } from './approval.js';

/**
 * The record of a new approval card for `run` showing `plan`, asked by `requester` in
 * `channel` at `now`; it expires `timeoutMs` later. Not posted yet: `messageTs` comes after.
 */
export function newApproval(input: {
  run: Pick<Run, 'id'>;
  plan: Pick<RestorePlan, 'fingerprint'>;
  requester: string;
  channel: string;
  now: Date;
  timeoutMs: number;
}): ApprovalRecord {
  return {
    runId: input.run.id,
    requester: input.requester,
    channel: input.channel,
    messageTs: undefined,
    fingerprint: input.plan.fingerprint,
    createdAt: input.now,
    expiresAt: new Date(input.now.getTime() + input.timeoutMs),
  };
}

/** The expiry decision once `now` has reached the card's expiry; undefined before it. */
export function expiryOf(approval: ApprovalRecord, now: Date): ApprovalDecision | undefined {
  if (now.getTime() < approval.expiresAt.getTime()) return undefined;
  return {
    approved: false,
    status: 'expired',
    by: undefined,
    at: now,
    reason: `no approval within ${formatSpan(approval.expiresAt.getTime() - approval.createdAt.getTime())}`,
  };
}

/** One click on a card: who, which button, the plan the card showed, and whether they approve restores. */
export interface ApprovalClick {
  verb: 'approve' | 'reject';
  user: string;
  /** The fingerprint carried by the button (the plan on the card the user saw). */
  fingerprint: string | undefined;
  /** Whether the user is one of the configured approvers (resolved by the front end). */
  isApprover: boolean;
}

/**
 * What a click does. `refuse`: nothing, the clicker is told `answer` and `audit` (when set) goes
 * on the run's timeline. `decide`: the approval ends with `decision`. `bind`: an approval by a
 * valid approver, given once the plan, assessed again now, is the one on the card (bindPlan).
 */
export type ClickVerdict =
  | { kind: 'refuse'; answer: string; audit: string | undefined }
  | { kind: 'decide'; decision: ApprovalDecision }
  | { kind: 'bind' };

/**
 * The rules of DESIGN §5 for one click at `now`: only a pending, unexpired card can be decided;
 * only a configured approver who is not the requester may approve (two-person rule); an approver
 * or the requester may reject; an approval given to another plan than the card's is void.
 */
export function judgeClick(input: {
  approval: ApprovalRecord | undefined;
  run: Pick<Run, 'status'> | undefined;
  click: ApprovalClick;
  now: Date;
}): ClickVerdict {
  const { approval, run, click, now } = input;
  const { verb, user } = click;
  if (!run)
    return { kind: 'refuse', answer: 'This approval card is not pending any more.', audit: undefined };
  if (run.status !== 'pending-approval')
    return {
      kind: 'refuse',
      answer: `This request is already decided (${run.status}).`,
      audit: `${verb} click by ${user} ignored: the request is already ${run.status}`,
    };
  if (!approval)
    return {
      kind: 'refuse',
      answer: 'This approval card can no longer be acted on; ask for the restore again.',
      audit: `${verb} click by ${user} ignored: no approval card is open for this run`,
    };
  const expired = expiryOf(approval, now);
  if (expired) return { kind: 'decide', decision: expired };
  if (verb === 'approve') {
    if (user === approval.requester)
      return {
        kind: 'refuse',
        answer: 'Two-person rule: you requested this restore, so another approver must approve it.',
        audit: `approve click by ${user} refused: the requester cannot approve their own request`,
      };
    if (!click.isApprover)
      return {
        kind: 'refuse',
        answer: 'You are not one of the configured approvers for restores.',
        audit: `approve click by ${user} refused: not a configured approver`,
      };
  } else if (user !== approval.requester && !click.isApprover) {
    return {
      kind: 'refuse',
      answer: 'Only an approver or the requester can reject this request.',
      audit: `reject click by ${user} refused: only approvers or the requester may reject`,
    };
  }
  if (verb === 'reject')
    return {
      kind: 'decide',
      decision: { approved: false, status: 'rejected', by: user, at: now, reason: `rejected by ${user}` },
    };
  if (click.fingerprint !== approval.fingerprint)
    return {
      kind: 'decide',
      decision: {
        approved: false,
        status: 'cancelled',
        by: user,
        at: now,
        reason: 'void: the approval was for a different plan',
      },
    };
  return { kind: 'bind' };
}

/**
 * An approval by `by` binds to the plan on the card: given only when the plan assessed again
 * now (`current`, or the error that assessing gave) has the card's fingerprint; otherwise void,
 * naming what changed against `shown` (the plan the card showed) when it is known.
 */
export function bindPlan(input: {
  approval: Pick<ApprovalRecord, 'fingerprint'>;
  shown: RestorePlan | undefined;
  current: RestorePlan | Error;
  by: string;
  at: Date;
  via: string;
}): ApprovalDecision {
  const { approval, shown, current, by, at } = input;
  if (current instanceof Error)
    return {
      approved: false,
      status: 'cancelled',
      by,
      at,
      reason: `void: re-assessing the plan failed: ${current.message}`,
    };
  if (current.fingerprint !== approval.fingerprint) {
    const changed = current.assets
      .filter((a) => !shown?.assets.some((b) => b.asset === a.asset && b.setId === a.setId))
      .map((a) => `${a.asset} now ${a.setId}`);
    return {
      approved: false,
      status: 'cancelled',
      by,
      at,
      reason: `void: the plan changed since the card was posted${changed.length && shown ? ` (${changed.join(', ')})` : ''}; ask again`,
    };
  }
  return { approved: true, by, at, via: input.via };
}

/**
 * How a run left `pending-approval` by a process that is gone ends at `now`, or undefined
 * while its card can still be acted on (the app that owns approvals takes it up on a click).
 * Without a posted card nobody can approve it: interrupted. A withdrawal, then expiry, win.
 */
export function orphanOutcome(
  approval: ApprovalRecord | undefined,
  cancel: { by: string } | undefined,
  now: Date,
): { status: 'interrupted' | 'cancelled' | 'expired'; reason: string; by?: string } | undefined {
  if (!approval?.messageTs)
    return {
      status: 'interrupted',
      reason:
        'the drbot process waiting for its approval stopped, and no approval card can be acted on; ask again',
    };
  if (cancel) return { status: 'cancelled', reason: `withdrawn: cancelled by ${cancel.by}`, by: cancel.by };
  const expired = expiryOf(approval, now);
  if (expired?.approved === false) return { status: 'expired', reason: expired.reason };
  return undefined;
}
