// The text answer of a restore or undo run: plan, outcome, where the postmortem is.
import type { RestoreOutcome } from '../src/engine/restore/restore.js';
import { bytes, span, table } from './format.js';

/** The plan, the decision and the outcome of a restore or undo, as text. */
export function restoreText(title: string, o: RestoreOutcome): string {
  const mark =
    o.status === 'succeeded'
      ? '✓'
      : o.status === 'rejected' || o.status === 'expired' || o.status === 'cancelled'
        ? '⏸'
        : '✗';
  const lines = [`${mark} ${o.run.id} ${title}: ${o.status}`];
  const p = o.plan;
  if (p) {
    lines.push('', `plan ${p.fingerprint}:`);
    lines.push(
      table([
        ['ASSET', 'KIND', 'FROM SET', 'SET TIME', 'SIZE', 'READ FROM', 'DATA LOSS', 'RPO'],
        ...p.assets.map((a) => [
          a.asset,
          a.kind,
          a.setId,
          a.setTime.replace('.000Z', 'Z'),
          bytes(a.size),
          a.readFrom,
          span(a.lossWindowMs),
          a.rpoMs === undefined ? '-' : `${span(a.rpoMs)}${a.lossWindowMs > a.rpoMs ? ' BREACHED' : ''}`,
        ]),
      ]),
    );
    lines.push(
      `containers stopped and restarted: ${p.stopContainers.length ? p.stopContainers.join(', ') : 'none'}`,
    );
    lines.push(
      `expected duration: ${p.expectedMs === undefined ? 'unknown (no past restore of this scope)' : `about ${span(p.expectedMs)}`}; RTO: ${span(p.rtoMs)}`,
    );
    for (const n of p.notes) lines.push(`note: ${n}`);
  }
  if (o.decision)
    lines.push(
      o.decision.approved
        ? `approved by ${o.decision.by} (${o.decision.via})`
        : `${o.decision.status}: ${o.decision.reason}`,
    );
  if (o.safetySetId)
    lines.push(`safety snapshot: ${o.safetySetId} (undo with: drbot undo ${o.run.id} --yes)`);
  for (const f of o.failures) if (!o.decision || o.decision.approved) lines.push(`cause: ${f}`);
  if (o.postmortem) lines.push(`postmortem: drbot run ${o.run.id} --postmortem`);
  return lines.join('\n');
}
