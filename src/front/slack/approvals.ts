// The Slack approval card: posts it, collects the clicks, shows the decision; the rules are the engine's.
import { formatSpan } from '../../domain/duration.js';
import type { RestorePlan } from '../../domain/restore-plan.js';
import { type Run, restoreResult } from '../../domain/runs.js';
import type { Engine } from '../../engine/engine.js';
import type { ApprovalDecision, ApprovalGate } from '../../engine/runs/approval.js';
import { bindPlan, expiryOf, judgeClick, newApproval } from '../../engine/runs/approval-rules.js';
import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ApprovalRecord } from '../../ports/state-store.js';
import { type Block, button, capBlocks, context, section } from './blocks.js';
import type { Directory } from './directory.js';
import type { SlackPoster } from './slack-client.js';

export const APPROVE_ACTION = 'dr_approve';
export const REJECT_ACTION = 'dr_reject';

/** How an approval given in Slack is recorded on the run and in its postmortem. */
const VIA = 'Slack two-person approval';

/** How often cards are checked for expiry, withdrawal, and outcomes decided by another process. */
const CHECK_INTERVAL_MS = 1000;

/** A run of this process waiting on its card. */
interface Waiter {
  run: Run;
  /** The plan the card shows. */
  plan: RestorePlan;
  replan: () => Promise<RestorePlan>;
  approval: ApprovalRecord;
  posted: Promise<void>;
  resolve: (d: ApprovalDecision) => void;
  /** Decided here: the card shows the outcome and its record is closed. */
  decided: boolean;
}

/** What a click tells us: which run and which plan the card showed. */
export interface ApprovalClick {
  action: typeof APPROVE_ACTION | typeof REJECT_ACTION;
  value: string;
  user: string;
  channel: string | undefined;
}

/**
 * Takes up a run a stopped process left waiting, once its card is approved: runs it through
 * the engine with `gate` (which binds the approval to the card's plan) and reports it.
 */
export type TakeUp = (approval: ApprovalRecord, gate: ApprovalGate) => Promise<void>;

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Two-person approvals for destructive runs, in Slack. The card says what will be restored from
 * which set, the data-loss window, which containers stop and the expected duration; the rules
 * (who may decide, plan binding, expiry) are the engine's (approval-rules.ts), on its clock.
 * Cards are recorded in the state file: after a restart a click on one still works (the run is
 * taken up, its plan assessed again), expiry still fires, and an outcome decided by another
 * process (a `cancel` from a terminal) still shows on the card.
 */
export class ApprovalDesk {
  private readonly waiters = new Map<string, Waiter>();
  /** Runs whose decision is being made or shown now: a repeated click or a retry does nothing. */
  private readonly deciding = new Set<string>();
  private readonly watcher: NodeJS.Timeout;

  constructor(
    private readonly poster: SlackPoster,
    private readonly engine: Engine,
    private readonly directory: Directory,
    private readonly approvers: readonly string[],
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly takeUp: TakeUp,
  ) {
    this.watcher = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.watcher.unref();
  }

  gate(channel: string, requester: string): ApprovalGate {
    return {
      decide: (run, plan, replan) =>
        new Promise<ApprovalDecision>((resolve) => {
          const approval = newApproval({
            run,
            plan,
            requester,
            channel,
            now: this.engine.now(),
            timeoutMs: this.timeoutMs,
          });
          this.engine.saveApproval(approval);
          const w: Waiter = {
            run,
            plan,
            replan,
            approval,
            posted: Promise.resolve(),
            resolve,
            decided: false,
          };
          this.waiters.set(run.id, w);
          w.posted = this.poster
            .post(
              channel,
              `Approval needed: ${run.kind} ${run.target} (${run.id})`,
              this.card(run, plan, approval),
            )
            .then((ts) => {
              w.approval = { ...w.approval, messageTs: ts };
              // Recorded once posted (also when handed over meanwhile): from now on the card
              // outlives this process.
              if (!w.decided) this.record(w.approval);
            })
            .catch((err) => {
              this.log.error({ err: (err as Error).message, runId: run.id }, 'approval card not posted');
              this.finish(w, {
                approved: false,
                status: 'cancelled',
                by: undefined,
                at: this.engine.now(),
                reason: `the approval card could not be posted: ${(err as Error).message}`,
              });
            });
        }),
    };
  }

  async click(c: ApprovalClick): Promise<void> {
    let parsed: { runId?: string; fingerprint?: string };
    try {
      parsed = JSON.parse(c.value) as typeof parsed;
    } catch {
      parsed = {};
    }
    const runId = typeof parsed.runId === 'string' ? parsed.runId : '';
    const verb = c.action === APPROVE_ACTION ? 'approve' : 'reject';
    if (this.deciding.has(runId)) return this.alreadyDecided(c, runId, verb);
    const asked = runId ? this.engine.approval(runId) : undefined;
    // Approvers are looked up only for a decision someone other than the requester makes.
    const isApprover =
      asked !== undefined && c.user !== asked.requester
        ? await this.directory.contains(this.approvers, c.user)
        : false;
    if (this.deciding.has(runId)) return; // another click won while we looked the user up
    const approval = runId ? this.engine.approval(runId) : undefined;
    const run = runId ? this.engine.findRun(runId) : undefined;
    const verdict = judgeClick({
      approval,
      run,
      click: { verb, user: c.user, fingerprint: parsed.fingerprint, isApprover },
      now: this.engine.now(),
    });
    if (verdict.kind === 'refuse') {
      if (run && verdict.audit) this.engine.audit(runId, verdict.audit);
      await this.refuse(c, verdict.answer);
      return;
    }
    this.deciding.add(runId);
    const w = this.waiters.get(runId);
    if (w) {
      if (verdict.kind === 'decide') return this.finish(w, verdict.decision);
      const current = await w.replan().catch((err: unknown) => new Error(describeError(err)));
      this.finish(
        w,
        bindPlan({
          approval: w.approval,
          shown: w.plan,
          current,
          by: c.user,
          at: this.engine.now(),
          via: VIA,
        }),
      );
      return;
    }
    // Nobody here waits on this card: the process that posted it stopped (a deploy, a crash).
    const record = approval as ApprovalRecord;
    const shown = restoreResult(run as Run).plan;
    if (verdict.kind === 'decide') {
      const d = verdict.decision;
      const settled = d.approved ? undefined : this.engine.settleApproval(runId, d);
      if (!settled) {
        this.deciding.delete(runId);
        await this.refuse(c, 'This request is being handled by another drbot process; try again shortly.');
        return;
      }
      await this.show(record, settled, shown, outcomeLine(d));
      return;
    }
    void this.takeUpClick(c, record, run as Run, shown);
  }

  /**
   * Stops waiting without deciding: this process is going away (a deploy, a restart). Each run
   * stays `pending-approval` and its card stays valid until it expires; whichever drbot acts on
   * the card next takes the request up.
   */
  async handOver(): Promise<void> {
    clearInterval(this.watcher);
    const posting: Promise<void>[] = [];
    for (const w of this.waiters.values()) {
      posting.push(w.posted);
      this.waiters.delete(w.run.id);
      w.resolve({
        approved: false,
        status: 'pending-approval',
        by: undefined,
        at: this.engine.now(),
        reason: `drbot stopped; the card stays valid until ${stamp(w.approval.expiresAt)}`,
      });
    }
    // A card being posted is recorded with its message before this process lets go of it.
    await Promise.all(posting);
  }

  private record(approval: ApprovalRecord): void {
    try {
      this.engine.saveApproval(approval);
    } catch (err) {
      this.log.error({ runId: approval.runId, err: describeError(err) }, 'approval card not recorded');
    }
  }

  /** An approval of a card whose process stopped: the run is taken up, its plan bound to the card's. */
  private async takeUpClick(
    c: ApprovalClick,
    approval: ApprovalRecord,
    run: Run,
    shown: RestorePlan | undefined,
  ): Promise<void> {
    let decided = false;
    const gate: ApprovalGate = {
      decide: async (r, plan) => {
        const d = bindPlan({ approval, shown, current: plan, by: c.user, at: this.engine.now(), via: VIA });
        decided = true;
        void this.show(approval, r, shown ?? plan, outcomeLine(d));
        return d;
      },
    };
    try {
      await this.takeUp(approval, gate);
    } catch (err) {
      this.log.warn({ runId: run.id, err: describeError(err) }, 'approved request not taken up');
      if (!decided) await this.refuse(c, `This request could not be taken up: ${describeError(err)}`);
    } finally {
      // Undecided (it failed before the gate): the periodic check shows how the run ended.
      if (!decided) this.deciding.delete(run.id);
    }
  }

  /**
   * Every second: this process's cards that were withdrawn (`/dr cancel`) or have expired are
   * decided; runs that stopped processes left waiting are settled when nobody can approve them
   * any more; a card whose run ended elsewhere is updated to show how.
   */
  private check(): void {
    try {
      const now = this.engine.now();
      for (const w of [...this.waiters.values()]) {
        const cancel = this.engine.cancelRequested(w.run.id);
        const d: ApprovalDecision | undefined = cancel
          ? {
              approved: false,
              status: 'cancelled',
              by: cancel.by,
              at: cancel.at,
              reason: `withdrawn: cancelled by ${cancel.by}`,
            }
          : expiryOf(w.approval, now);
        if (d && !this.deciding.has(w.run.id)) {
          this.deciding.add(w.run.id);
          this.finish(w, d);
        }
      }
      this.engine.settleOrphanedApprovals();
      for (const a of this.engine.approvals()) {
        if (this.waiters.has(a.runId) || this.deciding.has(a.runId)) continue;
        const run = this.engine.findRun(a.runId);
        if (run?.status === 'pending-approval') continue; // still open, here or in another process
        this.deciding.add(a.runId);
        void this.show(
          a,
          run,
          run ? restoreResult(run).plan : undefined,
          run ? runOutcomeLine(run) : undefined,
        );
      }
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'approval check failed');
    }
  }

  private finish(w: Waiter, d: ApprovalDecision): void {
    w.decided = true;
    this.deciding.add(w.run.id);
    this.waiters.delete(w.run.id);
    w.resolve(d);
    void w.posted.then(() => this.show(w.approval, w.run, w.plan, outcomeLine(d)));
  }

  /** The card shows the outcome (who decided and when) and is no longer open. */
  private async show(
    approval: ApprovalRecord,
    run: Run | undefined,
    plan: RestorePlan | undefined,
    outcome: string | undefined,
  ): Promise<void> {
    try {
      if (approval.messageTs && run && outcome)
        await this.poster
          .update(
            approval.channel,
            approval.messageTs,
            `${run.kind} ${run.target}: ${outcome}`,
            this.card(run, plan, approval, outcome),
          )
          .catch((err) => this.log.warn({ err: (err as Error).message }, 'approval card not updated'));
      this.engine.closeApproval(approval.runId);
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'approval card not closed');
    } finally {
      this.deciding.delete(approval.runId);
    }
  }

  private async alreadyDecided(c: ApprovalClick, runId: string, verb: string): Promise<void> {
    const run = this.engine.findRun(runId);
    if (run)
      this.engine.audit(runId, `${verb} click by ${c.user} ignored: the request is already ${run.status}`);
    await this.refuse(
      c,
      run
        ? `This request is already decided (${run.status}).`
        : 'This approval card is not pending any more.',
    );
  }

  private async refuse(c: ApprovalClick, text: string): Promise<void> {
    if (!c.channel) return;
    await this.poster
      .ephemeral(c.channel, c.user, text)
      .catch((err) => this.log.warn({ err: (err as Error).message }, 'ephemeral refusal not sent'));
  }

  private card(run: Run, plan: RestorePlan | undefined, approval: ApprovalRecord, decided?: string): Block[] {
    const blocks: Block[] = [
      section(
        `:rotating_light: *Approval needed: ${run.kind} ${run.target}* (${run.id}), requested by <@${approval.requester}>`,
      ),
    ];
    if (plan) blocks.push(...this.planBlocks(run, plan));
    if (decided) {
      blocks.push(section(decided));
    } else if (plan) {
      const value = JSON.stringify({ runId: run.id, fingerprint: plan.fingerprint });
      blocks.push({
        type: 'actions',
        block_id: `approval:${run.id}`,
        elements: [
          button('Approve', APPROVE_ACTION, value, 'primary', {
            title: 'Approve this restore?',
            text: `Live data of ${plan.assets.map((a) => a.asset).join(', ')} will be replaced (a safety snapshot is taken first).`,
            confirm: 'Approve',
            deny: 'Cancel',
          }),
          button('Reject', REJECT_ACTION, value, 'danger'),
        ],
      });
      blocks.push(
        context([
          `Plan ${plan.fingerprint} · expires in ${formatSpan(approval.expiresAt.getTime() - approval.createdAt.getTime())} (${stamp(approval.expiresAt)}) · approvers other than the requester only`,
        ]),
      );
    }
    return capBlocks(blocks, `\`/dr run ${run.id}\``);
  }

  private planBlocks(run: Run, plan: RestorePlan): Block[] {
    const blocks: Block[] = [];
    const shown = plan.assets.slice(0, 30);
    for (const a of shown) {
      const set = this.engine.getSet(a.setId);
      const where =
        set?.artifacts
          .find((x) => x.asset === a.asset)
          ?.locations.filter((l) => l.status === 'confirmed')
          .map((l) => l.target) ?? [];
      const rpo =
        a.rpoMs === undefined
          ? ''
          : a.lossWindowMs > a.rpoMs
            ? ` — *exceeds RPO ${formatSpan(a.rpoMs)}*`
            : ` (RPO ${formatSpan(a.rpoMs)}: within)`;
      blocks.push(
        section(
          `*${a.asset}* (${a.kind}) from \`${a.setId}\` taken ${stamp(new Date(a.setTime))}, checksums confirmed on ${where.join(', ') || 'no target'}; read from ${a.readFrom}\nData-loss window: ${formatSpan(a.lossWindowMs)}${rpo}`,
        ),
      );
    }
    if (plan.assets.length > shown.length)
      blocks.push(
        context([`… and ${plan.assets.length - shown.length} more asset(s): \`/dr run ${run.id}\``]),
      );
    blocks.push(
      section(
        `*Containers that will stop:* ${plan.stopContainers.length ? plan.stopContainers.join(', ') : 'none'}\n*Expected duration:* ${plan.expectedMs === undefined ? 'unknown (no past restore of this scope)' : `about ${formatSpan(plan.expectedMs)} (past runs)`} · *RTO:* ${plan.rtoMs === undefined ? '-' : formatSpan(plan.rtoMs)}`,
      ),
    );
    for (const n of plan.notes.slice(0, 5)) blocks.push(context([`:warning: ${n}`]));
    return blocks;
  }
}

/** The line a decided card shows: who decided what, and when. */
function outcomeLine(d: ApprovalDecision): string {
  if (d.approved) return `:white_check_mark: Approved by <@${d.by}> at ${stamp(d.at)}`;
  if (d.status === 'expired') return `:hourglass: Expired at ${stamp(d.at)}: ${d.reason}`;
  if (d.status === 'rejected') return `:no_entry: Rejected by <@${d.by}> at ${stamp(d.at)}`;
  return `:no_entry_sign: ${d.reason}${d.by ? ` (clicked by <@${d.by}> at ${stamp(d.at)})` : ''}`;
}

/** The line a card shows for a run that ended without a decision made here (elsewhere, or while down). */
function runOutcomeLine(run: Run): string {
  const at = stamp(run.endedAt ?? run.createdAt);
  if (run.status === 'expired') return `:hourglass: Expired at ${at}: ${run.error ?? 'no approval in time'}`;
  return `:no_entry_sign: ${run.status} at ${at}${run.error ? `: ${run.error}` : ''}`;
}
