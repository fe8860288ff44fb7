// What a finished run tells the team's webhooks: its event, level, title and the answer's lines.
import type { Run } from '../../domain/runs.js';
import type { Notice, NoticeEvent } from '../../ports/notifier.js';

/** Lines of a run's answer a notice carries at most. */
const LINES = 40;

/**
 * The notice a run that ended sends to webhooks when people started it (Slack or the CLI; the
 * scheduler sends its own): restores and undos always (`restore`), backups as
 * `backup-succeeded`/`backup-failed`, a failed verify as `verify-failed`, the drill as
 * `drill-succeeded`/`drill-failed`. Undefined for what nobody needs to hear of (a good verify,
 * a run refused before it started, a cancelled backup).
 */
export function runNotice(run: Run, answer: string): Notice | undefined {
  const ok = run.status === 'succeeded';
  const failed = run.status === 'failed' || run.status === 'interrupted';
  let event: NoticeEvent | undefined;
  if (run.kind === 'restore' || run.kind === 'undo') event = 'restore';
  else if (run.kind === 'backup') event = ok ? 'backup-succeeded' : failed ? 'backup-failed' : undefined;
  else if (run.kind === 'verify') event = failed ? 'verify-failed' : undefined;
  else if (run.kind === 'test') event = ok ? 'drill-succeeded' : failed ? 'drill-failed' : undefined;
  if (!event) return undefined;
  const assets = Array.isArray((run.result as { assets?: unknown }).assets)
    ? ((run.result as { assets: unknown[] }).assets.filter((a) => typeof a === 'string') as string[])
    : undefined;
  return {
    title: `${run.id} ${run.kind} ${run.target} by ${run.requester}: ${run.status}`,
    lines: answer.split('\n').slice(0, LINES),
    level: ok ? 'info' : failed ? 'error' : 'warn',
    event,
    runId: run.id,
    ...(assets?.length ? { assets } : {}),
  };
}
