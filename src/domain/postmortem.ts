// The postmortem of a restore, rendered from its timeline and plan (pure: no I/O).
import { formatSpan } from './duration.js';
import type { RestorePlan } from './restore-plan.js';
import type { Run, RunEvent } from './runs.js';

export interface PostmortemInput {
  run: Run;
  events: RunEvent[];
  plan: RestorePlan | undefined;
  approval: { by: string; at: Date; via: string } | undefined;
  safetySetId: string | undefined;
  status: 'succeeded' | 'failed';
  failures: string[];
  extras: Record<string, string[]>;
  /** When the postmortem is written (end of the run). */
  at: Date;
}

const time = (d: Date) =>
  d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** Each stage's start, end and outcome, from the timeline. */
export function stageTimes(
  events: RunEvent[],
): Array<{ stage: string; start: Date; end: Date | undefined; ok: boolean | undefined }> {
  const out: Array<{ stage: string; start: Date; end: Date | undefined; ok: boolean | undefined }> = [];
  for (const e of events) {
    if (e.type === 'stage-start' && e.stage)
      out.push({ stage: e.stage, start: e.at, end: undefined, ok: undefined });
    if (e.type === 'stage-end' && e.stage) {
      const s = [...out].reverse().find((x) => x.stage === e.stage && !x.end);
      if (s) {
        s.end = e.at;
        s.ok = e.data?.ok === true;
      }
    }
  }
  return out;
}

/**
 * The postmortem of a recovery, in Markdown, written from the run's timeline: trigger and
 * requester, approver, each stage's duration, RTO achieved against target, data-loss window
 * against RPO, what failed, and follow-ups. Built only from recorded facts (which are already
 * free of secrets).
 */
export function renderPostmortem(p: PostmortemInput): string {
  const { run, plan } = p;
  const stages = stageTimes(p.events);
  const start = run.startedAt ?? run.createdAt;
  const resumeEnd = stages.find((s) => s.stage === 'resume')?.end;
  const rtoAchieved = (resumeEnd ?? p.at).getTime() - start.getTime();
  const assemble = stages.find((s) => s.stage === 'assemble');
  const waited = assemble?.end ? assemble.end.getTime() - assemble.start.getTime() : 0;
  const rtoVerdict =
    plan?.rtoMs === undefined
      ? 'no RTO target'
      : rtoAchieved <= plan.rtoMs
        ? `target ${formatSpan(plan.rtoMs)}: met`
        : `target ${formatSpan(plan.rtoMs)}: **missed**`;

  const lines: string[] = [];
  lines.push(`# Postmortem: ${run.kind} ${run.target} (${run.id})`, '');
  lines.push('| | |', '|---|---|');
  lines.push(`| Outcome | **${p.status}** |`);
  lines.push(
    `| Trigger | \`${run.kind === 'undo' ? `undo ${run.target}` : `restore ${run.target}`}\` requested by ${cell(run.requester)} at ${time(run.createdAt)} |`,
  );
  lines.push(
    `| Approved by | ${p.approval ? `${cell(p.approval.by)} at ${time(p.approval.at)} (${cell(p.approval.via)})` : 'not approved'} |`,
  );
  lines.push(
    `| RTO achieved | ${resumeEnd ? formatSpan(rtoAchieved) : `${formatSpan(rtoAchieved)} (services not confirmed up)`} — ${rtoVerdict}${waited ? `; ${formatSpan(waited)} of it waiting for approval` : ''} |`,
  );
  if (plan?.rebuild) {
    const sources = [...new Set(plan.assets.map((a) => a.readFrom))].join(', ');
    lines.push(`| Recovery | bare host: containers, networks and volumes re-created; read from ${sources} |`);
  }
  if (plan?.assets.length) {
    const worst = Math.max(...plan.assets.map((a) => a.lossWindowMs));
    lines.push(`| Data-loss window | up to ${formatSpan(worst)} (per asset below) |`);
  }
  lines.push(
    `| Safety snapshot | ${p.safetySetId ? `${p.safetySetId} — \`drbot undo ${run.id}\` puts it back` : 'none taken'} |`,
  );
  lines.push('');

  if (plan?.assets.length) {
    lines.push(
      '## What was restored',
      '',
      '| Asset | Kind | From set | Set time | Read from | Data-loss window | RPO |',
      '|---|---|---|---|---|---|---|',
    );
    for (const a of plan.assets) {
      const rpo =
        a.rpoMs === undefined
          ? '-'
          : `${formatSpan(a.rpoMs)} ${a.lossWindowMs > a.rpoMs ? '(**breached**)' : '(within)'}`;
      lines.push(
        `| ${cell(a.asset)} | ${a.kind} | ${a.setId} | ${time(new Date(a.setTime))} | ${a.readFrom} | ${formatSpan(a.lossWindowMs)} | ${rpo} |`,
      );
    }
    if (plan.stopContainers.length)
      lines.push('', `Containers stopped and started again: ${plan.stopContainers.join(', ')}.`);
    const pit = plan.assets.flatMap((a) =>
      a.pointInTime
        ? [
            `- ${cell(a.asset)}: target time ${time(new Date(a.pointInTime.to))}; ${a.pointInTime.base ? `base backup ${a.pointInTime.base}, then ${a.pointInTime.logs.length} archived WAL segment(s) (${a.pointInTime.logs.join(', ')}) replayed in a scratch server and loaded as a dump` : `base ${a.setId}, then ${a.pointInTime.logs.length} archived binary log(s) (${a.pointInTime.logs.join(', ')})`}; last change replayed at ${a.pointInTime.lastChangeAt ? time(new Date(a.pointInTime.lastChangeAt)) : 'none (not replayed)'}; data-loss window ${formatSpan(a.lossWindowMs)} (target − last change replayed)`,
          ]
        : [],
    );
    if (pit.length) lines.push('', 'Point in time:', '', ...pit);
    const reasons = plan.assets.filter((a) => a.readReason).map((a) => `- ${cell(a.asset)}: ${a.readReason}`);
    if (reasons.length) lines.push('', 'Why these copies were read:', '', ...reasons);
    const r = plan.rebuild;
    if (r) {
      lines.push(
        '',
        `**Bare-host recovery**: what was missing was re-created from the host recorded in ${r.specSet}.`,
        '',
        `- Networks: ${r.networks.join(', ') || 'none'}`,
        `- Empty volumes (database data directories, rebuilt from the dumps): ${r.volumes.join(', ') || 'none'}`,
        `- Database containers: ${r.databases.join(', ') || 'none'}`,
        `- Other containers, in order: ${r.containers.join(', ') || 'none'}`,
        `- Secret values supplied (names only): ${r.secrets.join(', ') || 'none'}`,
      );
    }
    lines.push('');
  }

  lines.push('## Stages', '', '| Stage | Started | Duration | Result |', '|---|---|---|---|');
  for (const s of stages) {
    const dur = s.end ? formatSpan(s.end.getTime() - s.start.getTime()) : '-';
    lines.push(
      `| ${s.stage} | ${time(s.start)} | ${dur} | ${s.ok === undefined ? 'did not finish' : s.ok ? 'ok' : '**failed**'} |`,
    );
  }
  lines.push('');

  if (p.failures.length) {
    lines.push('## What failed', '');
    for (const f of p.failures) lines.push(`- ${f}`);
    lines.push('');
  }

  lines.push('## Timeline', '');
  for (const e of p.events) {
    if (e.type === 'stage-start') continue;
    lines.push(
      `- ${time(e.at)} ${e.stage ? `[${e.stage}] ` : ''}${e.type === 'error' ? '**error** ' : e.type === 'warn' ? '_warning_ ' : ''}${e.message}`,
    );
  }
  lines.push('');

  lines.push('## Follow-ups', '');
  for (const f of followUps(p, rtoAchieved)) lines.push(`- [ ] ${f}`);
  return `${lines.join('\n')}\n`;
}

function followUps(p: PostmortemInput, rtoAchieved: number): string[] {
  const out: string[] = [];
  if (p.status === 'failed') {
    out.push(
      `Find and fix the cause of the failure above, then run the restore again${p.safetySetId ? ` — or put the previous state back with \`drbot undo ${p.run.id}\`` : ''}.`,
    );
  }
  for (const a of p.plan?.assets ?? []) {
    if (a.rpoMs !== undefined && a.lossWindowMs > a.rpoMs) {
      out.push(
        `${a.asset}: ${formatSpan(a.lossWindowMs)} of writes were lost against an RPO of ${formatSpan(a.rpoMs)}; back it up more often or fix what stopped its backups.`,
      );
    }
  }
  if (p.plan?.rtoMs !== undefined && rtoAchieved > p.plan.rtoMs)
    out.push(
      `The recovery took longer than the RTO of ${formatSpan(p.plan.rtoMs)}; find the slowest stage above.`,
    );
  for (const [asset, extra] of Object.entries(p.extras)) {
    if (extra.length)
      out.push(
        `${asset}: ${extra.length} file(s) that are not in the backup are still in the volume; decide whether to keep them.`,
      );
  }
  if (p.status === 'succeeded') {
    out.push('Confirm with the service owners that the application works on the restored data.');
    if (p.safetySetId) out.push(`Once confirmed, the safety snapshot ${p.safetySetId} can be removed.`);
  }
  out.push('Write down the root cause of the incident and how to prevent it.');
  return out;
}
