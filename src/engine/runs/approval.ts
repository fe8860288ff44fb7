// The approval gate of destructive runs, and the command line's `--yes` gate.
import type { RestorePlan } from '../../domain/restore-plan.js';
import type { Run } from '../../domain/runs.js';

/** The outcome of the assemble stage. */
export type ApprovalDecision =
  | { approved: true; by: string; at: Date; via: string }
  | {
      approved: false;
      status: 'rejected' | 'expired' | 'cancelled';
      by: string | undefined;
      at: Date;
      reason: string;
    }
  /**
   * Not decided, and not this process's to wait for any more (it is stopping): the run stays
   * `pending-approval`, its card stays valid, and whoever acts on the card takes it up.
   */
  | { approved: false; status: 'pending-approval'; by: undefined; at: Date; reason: string };

/**
 * The approval gate of a destructive run (DESIGN §3 assemble, §5). The CLI's `--yes` and
 * Slack's two-person approval both plug in here; nothing destructive happens before it says yes.
 */
export interface ApprovalGate {
  /** `replan` re-assesses now, so a gate can refuse an approval given to a plan that changed. */
  decide(run: Run, plan: RestorePlan, replan: () => Promise<RestorePlan>): Promise<ApprovalDecision>;
}

/** `--yes` on the command line stands for approval, recorded as such; without it, refused. */
export function commandLineGate(yes: boolean, requester: string, now: () => Date): ApprovalGate {
  return {
    decide: async () =>
      yes
        ? { approved: true, by: requester, at: now(), via: '--yes on the command line' }
        : {
            approved: false,
            status: 'rejected',
            by: undefined,
            at: now(),
            reason: 'not approved: this is a destructive run; re-run with --yes to carry out the plan above',
          },
  };
}
