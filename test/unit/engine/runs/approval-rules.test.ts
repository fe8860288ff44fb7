// Approval rules on a manual clock: two-person rule, who may decide, plan binding, expiry, orphans.
import { describe, expect, it } from 'vitest';
import type { RestorePlan } from '../../../../src/domain/restore-plan.js';
import {
  type ApprovalClick,
  bindPlan,
  expiryOf,
  judgeClick,
  newApproval,
  orphanOutcome,
} from '../../../../src/engine/runs/approval-rules.js';
import { ManualClock } from '../../../fixtures/engine.js';

const MIN = 60_000;
const REQUESTER = 'U0OPS';

function plan(fingerprint: string, sets: Record<string, string> = { main: 'set-1' }): RestorePlan {
  return {
    fingerprint,
    assets: Object.entries(sets).map(([asset, setId]) => ({ asset, setId })),
  } as unknown as RestorePlan;
}

function setup() {
  const clock = new ManualClock(new Date('2026-06-01T10:00:00Z'));
  const approval = {
    ...newApproval({
      run: { id: 'run-7' },
      plan: plan('plan-a'),
      requester: REQUESTER,
      channel: 'C0OPS',
      now: clock.now(),
      timeoutMs: 30 * MIN,
    }),
    messageTs: '1.2',
  };
  const later = (ms: number) => clock.set(new Date(clock.now().getTime() + ms));
  const judge = (click: Partial<ApprovalClick>, status = 'pending-approval' as const) =>
    judgeClick({
      approval,
      run: { status },
      click: { verb: 'approve', user: 'U0BOSS', fingerprint: 'plan-a', isApprover: true, ...click },
      now: clock.now(),
    });
  return { clock, approval, later, judge };
}

describe('newApproval and expiryOf', () => {
  it('expires the card timeout after it was asked for, not a moment before', () => {
    const { approval, clock, later } = setup();

    later(30 * MIN - 1);
    const before = expiryOf(approval, clock.now());
    later(1);
    const at = expiryOf(approval, clock.now());

    expect(approval.expiresAt.toISOString()).toBe('2026-06-01T10:30:00.000Z');
    expect(before).toBeUndefined();
    expect(at).toMatchObject({ approved: false, status: 'expired', reason: 'no approval within 30m' });
  });
});

describe('judgeClick', () => {
  it('refuses the requester approving their own request (two-person rule), with an audit line', () => {
    const { judge } = setup();

    const verdict = judge({ user: REQUESTER });

    expect(verdict).toEqual({
      kind: 'refuse',
      answer: expect.stringMatching(/^Two-person rule/),
      audit: 'approve click by U0OPS refused: the requester cannot approve their own request',
    });
  });

  it('refuses an approval by someone who is not a configured approver', () => {
    const { judge } = setup();

    const verdict = judge({ user: 'U0STRANGER', isApprover: false });

    expect(verdict).toMatchObject({
      kind: 'refuse',
      audit: expect.stringMatching(/not a configured approver/),
    });
  });

  it('lets the requester or an approver reject, and nobody else', () => {
    const { judge } = setup();

    const byRequester = judge({ verb: 'reject', user: REQUESTER, isApprover: false });
    const byApprover = judge({ verb: 'reject', user: 'U0BOSS' });
    const byStranger = judge({ verb: 'reject', user: 'U0STRANGER', isApprover: false });

    expect(byRequester).toMatchObject({ kind: 'decide', decision: { status: 'rejected', by: REQUESTER } });
    expect(byApprover).toMatchObject({ kind: 'decide', decision: { status: 'rejected', by: 'U0BOSS' } });
    expect(byStranger).toMatchObject({
      kind: 'refuse',
      audit: expect.stringMatching(/only approvers or the requester/),
    });
  });

  it('binds an approver’s approval to the card’s plan; one for another plan is void', () => {
    const { judge } = setup();

    const good = judge({});
    const other = judge({ fingerprint: 'plan-b' });

    expect(good).toEqual({ kind: 'bind' });
    expect(other).toMatchObject({
      kind: 'decide',
      decision: { status: 'cancelled', reason: expect.stringMatching(/^void/) },
    });
  });

  it('turns any click after the expiry into the expiry, as the clock says', () => {
    const { judge, later } = setup();

    later(31 * MIN);
    const verdict = judge({});

    expect(verdict).toMatchObject({
      kind: 'decide',
      decision: { status: 'expired', at: new Date('2026-06-01T10:31:00Z') },
    });
  });

  it('answers a click on a card already decided, or never recorded, without deciding', () => {
    const { judge, clock } = setup();

    const decided = judge({}, 'succeeded' as never);
    const unknown = judgeClick({
      approval: undefined,
      run: undefined,
      click: { verb: 'approve', user: 'U0BOSS', fingerprint: 'x', isApprover: true },
      now: clock.now(),
    });

    expect(decided).toMatchObject({ kind: 'refuse', answer: 'This request is already decided (succeeded).' });
    expect(unknown).toMatchObject({ kind: 'refuse', audit: undefined });
  });
});

describe('bindPlan', () => {
  const at = new Date('2026-06-01T10:05:00Z');

  it('approves when the plan assessed again is the card’s', () => {
    const d = bindPlan({
      approval: { fingerprint: 'plan-a' },
      shown: plan('plan-a'),
      current: plan('plan-a'),
      by: 'U0BOSS',
      at,
      via: 'test',
    });

    expect(d).toEqual({ approved: true, by: 'U0BOSS', at, via: 'test' });
  });

  it('voids the approval when the plan changed, naming what changed', () => {
    const d = bindPlan({
      approval: { fingerprint: 'plan-a' },
      shown: plan('plan-a'),
      current: plan('plan-b', { main: 'set-2' }),
      by: 'U0BOSS',
      at,
      via: 'test',
    });

    expect(d).toMatchObject({
      approved: false,
      status: 'cancelled',
      reason: 'void: the plan changed since the card was posted (main now set-2); ask again',
    });
  });

  it('voids the approval when assessing again failed', () => {
    const d = bindPlan({
      approval: { fingerprint: 'plan-a' },
      shown: undefined,
      current: new Error('docker down'),
      by: 'U0BOSS',
      at,
      via: 'test',
    });

    expect(d).toMatchObject({
      status: 'cancelled',
      reason: 'void: re-assessing the plan failed: docker down',
    });
  });
});

describe('orphanOutcome: a run waiting for approval whose process is gone', () => {
  it('is interrupted without a posted card, withdrawn when cancelled, expired after its time, else left open', () => {
    const { approval, clock, later } = setup();

    const noCard = orphanOutcome(undefined, undefined, clock.now());
    const unposted = orphanOutcome({ ...approval, messageTs: undefined }, undefined, clock.now());
    const cancelled = orphanOutcome(approval, { by: 'U0OPS' }, clock.now());
    const open = orphanOutcome(approval, undefined, clock.now());
    later(30 * MIN);
    const expired = orphanOutcome(approval, undefined, clock.now());

    expect(noCard?.status).toBe('interrupted');
    expect(unposted?.status).toBe('interrupted');
    expect(cancelled).toMatchObject({ status: 'cancelled', reason: 'withdrawn: cancelled by U0OPS' });
    expect(open).toBeUndefined();
    expect(expired).toMatchObject({ status: 'expired', reason: 'no approval within 30m' });
  });
});
