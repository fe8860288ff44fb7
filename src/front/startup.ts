// What every front end does before it answers: rebuild an empty catalog, settle interrupted runs.
import { type Run, restoreResult } from '../domain/runs.js';
import type { Engine } from '../engine/engine.js';
import type { Notice } from '../ports/notifier.js';

/**
 * Rebuilds the catalog from the targets when the state is empty (a new host), then marks runs a
 * dead process left `running` as interrupted and removes their scratch. Returns what people
 * should be told, for each front end to show its own way (stderr, the log, the alerts channel).
 */
export async function prepareEngine(
  engine: Engine,
  /** `chat` for Slack and the log, `cli` for one line on a terminal's stderr. */
  style: 'chat' | 'cli' = 'chat',
): Promise<Notice[]> {
  const notices: Notice[] = [];
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
  return notices;
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
