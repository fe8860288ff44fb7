// The Slack approval card: posts it, collects the clicks, reports the decision.
import { formatSpan } from '../../domain/duration.js';
import type { RestorePlan } from '../../domain/restore-plan.js';
import type { Run } from '../../domain/runs.js';
import type { Engine } from '../../engine/engine.js';
import type { ApprovalDecision, ApprovalGate } from '../../engine/runs/approval.js';
import type { Logger } from '../../log.js';
import { type Block, button, capBlocks, context, section } from './blocks.js';
import type { Directory } from './directory.js';
import type { SlackPoster } from './slack-client.js';

export const APPROVE_ACTION = 'dr_approve';
export const REJECT_ACTION = 'dr_reject';

interface Pending {
  run: Run;
  plan: RestorePlan;
  replan: () => Promise<RestorePlan>;
  requester: string;
  channel: string;
  ts: string | undefined;
  posted: Promise<void>;
  timer: NodeJS.Timeout;
  /** Set synchronously on the first decisive click, so repeats and retries do nothing. */
  deciding: boolean;
  resolve: (d: ApprovalDecision) => void;
}

/** What a click tells us: which run and which plan the card showed. */
export interface ApprovalClick {
  action: typeof APPROVE_ACTION | typeof REJECT_ACTION;
  value: string;
  user: string;
  channel: string | undefined;
}

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Two-person approvals for destructive runs. The card says what will be restored from which
 * set, the data-loss window, which containers stop and the expected duration. Only a
 * configured approver who is not the requester may approve; every other click gets an
 * ephemeral refusal and is recorded on the run. An approval binds to the plan on the card: if
 * a re-assessment at click time gives another plan, it is void. Cards expire.
 */
export class ApprovalDesk {
  private pending = new Map<string, Pending>();

  private readonly watcher: NodeJS.Timeout;

  constructor(
    private readonly poster: SlackPoster,
    private readonly engine: Engine,
    private readonly directory: Directory,
    private readonly approvers: readonly string[],
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    // `/dr cancel` (from Slack or a terminal) withdraws a pending approval within a second.
    this.watcher = setInterval(() => this.withdrawCancelled(), 1000);
    this.watcher.unref();
  }

  private withdrawCancelled(): void {
    for (const p of this.pending.values()) {
      const c = this.engine.cancelRequested(p.run.id);
      if (c && !p.deciding)
        this.finish(p, {
          approved: false,
          status: 'cancelled',
          by: c.by,
          at: c.at,
          reason: `withdrawn: cancelled by ${c.by}`,
        });
    }
  }

  gate(channel: string, requester: string): ApprovalGate {
    return {
      decide: (run, plan, replan) =>
        new Promise<ApprovalDecision>((resolve) => {
          const p: Pending = {
            run,
            plan,
            replan,
            requester,
            channel,
            ts: undefined,
            posted: Promise.resolve(),
            deciding: false,
            resolve,
            timer: setTimeout(() => void this.expire(run.id), this.timeoutMs),
          };
          p.posted = this.poster
            .post(channel, `Approval needed: ${run.kind} ${run.target} (${run.id})`, this.card(p))
            .then((ts) => {
              p.ts = ts;
            })
            .catch((err) => {
              this.log.error({ err: (err as Error).message, runId: run.id }, 'approval card not posted');
              this.finish(p, {
                approved: false,
                status: 'cancelled',
                by: undefined,
                at: new Date(),
                reason: `the approval card could not be posted: ${(err as Error).message}`,
              });
            });
          this.pending.set(run.id, p);
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
    const runId = parsed.runId ?? '';
    const p = this.pending.get(runId);
    const verb = c.action === APPROVE_ACTION ? 'approve' : 'reject';
    if (!p || p.deciding) {
      const run = runId ? this.engine.findRun(runId) : undefined;
      if (run)
        this.engine.audit(runId, `${verb} click by ${c.user} ignored: the request is already ${run.status}`);
      await this.refuse(
        c,
        run
          ? `This request is already decided (${run.status}).`
          : 'This approval card is not pending any more.',
      );
      return;
    }
    if (c.action === APPROVE_ACTION) {
      if (c.user === p.requester) {
        this.engine.audit(
          runId,
          `approve click by ${c.user} refused: the requester cannot approve their own request`,
        );
        await this.refuse(
          c,
          'Two-person rule: you requested this restore, so another approver must approve it.',
        );
        return;
      }
      if (!(await this.directory.contains(this.approvers, c.user))) {
        this.engine.audit(runId, `approve click by ${c.user} refused: not a configured approver`);
        await this.refuse(c, 'You are not one of the configured approvers for restores.');
        return;
      }
    } else if (c.user !== p.requester && !(await this.directory.contains(this.approvers, c.user))) {
      this.engine.audit(
        runId,
        `reject click by ${c.user} refused: only approvers or the requester may reject`,
      );
      await this.refuse(c, 'Only an approver or the requester can reject this request.');
      return;
    }
    if (p.deciding) return; // another click won while we looked the user up
    p.deciding = true;
    const at = new Date();
    if (c.action === REJECT_ACTION) {
      this.finish(p, {
        approved: false,
        status: 'rejected',
        by: c.user,
        at,
        reason: `rejected by ${c.user}`,
      });
      return;
    }
    if (parsed.fingerprint !== p.plan.fingerprint) {
      this.finish(p, {
        approved: false,
        status: 'cancelled',
        by: c.user,
        at,
        reason: 'void: the approval was for a different plan',
      });
      return;
    }
    let now: RestorePlan;
    try {
      now = await p.replan();
    } catch (err) {
      this.finish(p, {
        approved: false,
        status: 'cancelled',
        by: c.user,
        at,
        reason: `void: re-assessing the plan failed: ${(err as Error).message}`,
      });
      return;
    }
    if (now.fingerprint !== p.plan.fingerprint) {
      const changed = now.assets
        .filter((a) => !p.plan.assets.some((b) => b.asset === a.asset && b.setId === a.setId))
        .map((a) => `${a.asset} now ${a.setId}`);
      this.finish(p, {
        approved: false,
        status: 'cancelled',
        by: c.user,
        at,
        reason: `void: the plan changed since the card was posted${changed.length ? ` (${changed.join(', ')})` : ''}; ask again`,
      });
      return;
    }
    this.finish(p, { approved: true, by: c.user, at, via: 'Slack two-person approval' });
  }

  /** Expired or stopped: every pending card is closed. */
  closeAll(reason: string): void {
    clearInterval(this.watcher);
    for (const p of this.pending.values())
      this.finish(p, { approved: false, status: 'cancelled', by: undefined, at: new Date(), reason });
  }

  private expire(runId: string): void {
    const p = this.pending.get(runId);
    if (!p || p.deciding) return;
    p.deciding = true;
    this.finish(p, {
      approved: false,
      status: 'expired',
      by: undefined,
      at: new Date(),
      reason: `no approval within ${formatSpan(this.timeoutMs)}`,
    });
  }

  private finish(p: Pending, d: ApprovalDecision): void {
    p.deciding = true;
    clearTimeout(p.timer);
    this.pending.delete(p.run.id);
    p.resolve(d);
    void p.posted.then(async () => {
      if (!p.ts) return;
      const outcome = d.approved
        ? `:white_check_mark: Approved by <@${d.by}> at ${stamp(d.at)}`
        : d.status === 'expired'
          ? `:hourglass: Expired at ${stamp(d.at)}: ${d.reason}`
          : d.status === 'rejected'
            ? `:no_entry: Rejected by <@${d.by}> at ${stamp(d.at)}`
            : `:no_entry_sign: ${d.reason}${d.by ? ` (clicked by <@${d.by}> at ${stamp(d.at)})` : ''}`;
      await this.poster
        .update(p.channel, p.ts, `${p.run.kind} ${p.run.target}: ${outcome}`, this.card(p, outcome))
        .catch((err) => this.log.warn({ err: (err as Error).message }, 'approval card not updated'));
    });
  }

  private async refuse(c: ApprovalClick, text: string): Promise<void> {
    if (!c.channel) return;
    await this.poster
      .ephemeral(c.channel, c.user, text)
      .catch((err) => this.log.warn({ err: (err as Error).message }, 'ephemeral refusal not sent'));
  }

  private card(p: Pending, decided?: string): Block[] {
    const { run, plan } = p;
    const blocks: Block[] = [
      section(
        `:rotating_light: *Approval needed: ${run.kind} ${run.target}* (${run.id}), requested by <@${p.requester}>`,
      ),
    ];
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
    if (decided) {
      blocks.push(section(decided));
    } else {
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
          `Plan ${plan.fingerprint} · expires in ${formatSpan(this.timeoutMs)} · approvers other than the requester only`,
        ]),
      );
    }
    return capBlocks(blocks, `\`/dr run ${run.id}\``);
  }
}
