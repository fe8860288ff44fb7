// What every front end does before it answers: check Object Lock, rebuild an empty catalog, settle interrupted runs.
import { type Run, restoreResult } from '../domain/runs.js';
import type { Engine } from '../engine/engine.js';
import type { DebrisReport } from '../engine/runs/cleanup.js';
import type { Notice } from '../ports/notifier.js';

/**
 * Rebuilds the catalog from the targets when the state is empty (a new host), then marks runs a
 * dead process left `running` as interrupted and removes what stopped runs left behind. Returns
 * what people should be told, for each front end to show its own way (stderr, the log, the
 * alerts channel).
 */
export async function prepareEngine(
  engine: Engine,
  /** `chat` for Slack and the log, `cli` for one line on a terminal's stderr. */
  style: 'chat' | 'cli' = 'chat',
): Promise<Notice[]> {
  const notices: Notice[] = [];
  // A target configured with Object Lock on a bucket without it is refused before anything runs.
  for (const w of await engine.checkStorage()) notices.push({ title: w, lines: [], level: 'warn' });
  const rebuilt = await engine.ensureCatalog();
  if (rebuilt) {
    notices.push({
      title: `the state was empty: catalog rebuilt from ${rebuilt.read.join(', ')}`,
      lines: [
        rebuilt.snapshot
          ? `state snapshot of ${rebuilt.snapshot.setId} from ${rebuilt.snapshot.target}: ${rebuilt.snapshot.runs} run(s), ${rebuilt.snapshot.sets} set(s)`
          : 'no state snapshot found: run history before this host is not available',
        `${rebuilt.added.length} set(s) added from their manifests`,
        ...rebuilt.unreachable.map((u) => `unreachable: ${u}`),
        ...rebuilt.skipped.map((s) => `skipped: ${s}`),
      ],
      level: rebuilt.unreachable.length || rebuilt.skipped.length ? 'warn' : 'info',
    });
  }
  for (const r of await engine.recoverInterrupted()) notices.push(interruptedNotice(r, style));
  // Approvals a dead process left: those nobody can give any more end here, so they lock
  // nothing; a card that can still be acted on stays for the Slack app to take up.
  for (const r of engine.settleOrphanedApprovals())
    notices.push({
      title: `${r.id} (${r.kind} ${r.target}) was waiting for approval when drbot stopped: ${r.status}${r.error ? ` (${r.error})` : ''}`,
      lines: [],
      level: 'warn',
    });
  const debris = await engine.removeDebris();
  if (debris.removed.length || debris.problems.length) notices.push(debrisNotice(debris));
  return notices;
}

/** At most this many things are named one by one; the log has them all. */
const DEBRIS_LINES = 20;

/** What people are told about what stopped runs left behind, and what could not be removed. */
function debrisNotice(d: DebrisReport): Notice {
  const lines = d.removed.slice(0, DEBRIS_LINES).map((r) => `removed ${r}`);
  if (d.removed.length > DEBRIS_LINES)
    lines.push(`… and ${d.removed.length - DEBRIS_LINES} more (see the log)`);
  lines.push(...d.problems.map((p) => `not cleaned up: ${p}`));
  return {
    title: d.removed.length
      ? `removed ${d.removed.length} thing(s) that stopped runs left behind (unfinished files and uploads, helper containers and volumes)`
      : 'could not clean up after stopped runs',
    lines,
    level: d.problems.length ? 'warn' : 'info',
  };
}

/** What people are told about a run a dead process left behind. */
function interruptedNotice(r: Run, style: 'chat' | 'cli'): Notice {
  const { safetySetId: safety, stopped = [] } = restoreResult(r);
  if (style === 'cli') {
    return {
      title: `${r.id} (${r.kind} ${r.target}) was interrupted: the process running it stopped${stopped.length ? `; it had stopped ${stopped.join(', ')}` : ''}${safety ? `; safety snapshot ${safety} is intact (drbot undo ${r.id} --yes)` : ''}`,
      lines: [],
      level: 'error',
    };
  }
  const snapshot = safety
    ? ` Its safety snapshot ${safety} is intact: \`/dr undo ${r.id}\` puts it back.`
    : '';
  const had = stopped.length ? ` It had stopped ${stopped.join(', ')}.` : '';
  return {
    title: `${r.id} (${r.kind} ${r.target}) was interrupted: drbot stopped while it ran`,
    lines: [`${snapshot}${had}`.trim() || 'Nothing was left half-done that drbot knows of.'],
    level: 'error',
  };
}
