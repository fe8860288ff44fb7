// Runs in progress in this process, and stopping drbot while they work (SIGTERM, SIGINT).
import { formatSpan } from '../../domain/duration.js';
import { type Run, type RunKind, type RunStatus, restoreResult } from '../../domain/runs.js';
import { describeError, ErrorCode, userError } from '../../errors.js';
import type { Notice } from '../../ports/notifier.js';
import type { EngineDeps } from '../deps.js';
import { startAgain } from '../restore/resume.js';
import { combineObservers, type RunObserver } from './run-context.js';

/** Runs that replace live data: a stop waits for them. */
const DESTRUCTIVE: ReadonlySet<RunKind> = new Set(['restore', 'undo']);

interface Tracked {
  kind: RunKind;
  /** Known once the run is recorded (before that it has touched nothing). */
  runId: string | undefined;
  /** Settles when the run's function returns, whatever its outcome. */
  done: Promise<void>;
}

export interface ShutdownReport {
  reason: string;
  /** Restores and undos that ended while drbot waited, with how. */
  finished: Array<{ runId: string; status: RunStatus }>;
  /**
   * Restores and undos still working when the grace period ran out (or a second signal came):
   * marked failed, their services started again — except `notStarted`, named for a person.
   */
  abandoned: Array<{ runId: string; startedAgain: string[]; notStarted: string[] }>;
  /** Other runs of this process still working (backups, verifies): interrupted by the stop. */
  cutOff: string[];
}

/**
 * What this process is running, so that stopping it is never silent and never leaves services
 * down: once `shutdown` begins, no new run starts; a restore or undo that is working may finish
 * within the grace period (it may be halfway through loading a database: killing it then is
 * the worst moment); one still working after it is marked failed, and the containers it
 * stopped are started again. Runs waiting for approval are not waited for: they have touched
 * nothing, and what becomes of their card is the approval desk's business.
 */
export class RunTracker {
  private readonly active = new Set<Tracked>();
  private stopping: string | undefined;
  private cutShortNow: (() => void) | undefined;
  private cut = false;

  /**
   * Starts a run through `start` and follows it, or refuses (SHUTTING_DOWN) once a stop has
   * begun. The request's observer is extended to learn the run's id.
   */
  track<R extends { observer?: RunObserver }, T>(
    kind: RunKind,
    request: R,
    start: (request: R) => Promise<T>,
  ): Promise<T> {
    if (this.stopping) {
      return Promise.reject(
        userError(
          ErrorCode.SHUTTING_DOWN,
          `drbot is shutting down (${this.stopping}) and starts no new run; ask again once it is back`,
        ),
      );
    }
    const entry: Tracked = { kind, runId: undefined, done: Promise.resolve() };
    const learn: RunObserver = {
      onRunCreated: (run) => {
        entry.runId ??= run.id;
      },
    };
    let running: Promise<T>;
    try {
      running = start({ ...request, observer: combineObservers(request.observer, learn) });
    } catch (err) {
      return Promise.reject(err);
    }
    entry.done = running.then(
      () => undefined,
      () => undefined,
    );
    this.active.add(entry);
    void entry.done.then(() => this.active.delete(entry));
    return running;
  }

  /** Stops waiting: the runs still working are given up on now (a second signal). */
  cutShort(): void {
    this.cut = true;
    this.cutShortNow?.();
  }

  /**
   * Begins stopping, and settles once no restore or undo of this process is working any more,
   * or `graceMs` has passed (or `cutShort` was called); see RunTracker. `notify` tells people
   * what it waits for and how each run ended.
   */
  async shutdown(
    deps: Pick<EngineDeps, 'store' | 'runtime' | 'clock' | 'log'>,
    options: { reason: string; graceMs: number; notify?: (notice: Notice) => Promise<void> | void },
  ): Promise<ShutdownReport> {
    const { store, clock } = deps;
    const reason = options.reason;
    this.stopping ??= reason;
    const grace = formatSpan(options.graceMs);
    const tell = async (notice: Notice) => {
      try {
        await options.notify?.(notice);
      } catch (err) {
        deps.log.warn({ err: describeError(err), title: notice.title }, 'shutdown notice not delivered');
      }
    };
    const working = () =>
      [...this.active].filter(
        (e) => DESTRUCTIVE.has(e.kind) && e.runId && store.getRun(e.runId)?.status === 'running',
      );

    const waitedFor = new Map<string, Run>();
    const first = working();
    for (const e of first) {
      const run = store.getRun(e.runId as string) as Run;
      waitedFor.set(run.id, run);
      store.appendEvent(run.id, {
        at: clock.now(),
        type: 'warn',
        message: `drbot is stopping (${reason}): it waits up to ${grace} for this run to finish, and starts again whatever it stopped`,
      });
    }
    if (first.length) {
      await tell({
        level: 'warn',
        title: `drbot is stopping (${reason}): it waits up to ${grace} for ${[...waitedFor.values()].map(label).join(', ')} to finish`,
        lines: [
          'No new run starts meanwhile.',
          'Whatever happens, the services these runs stopped are started again.',
        ],
      });
    }

    const cut = new Promise<void>((resolve) => {
      this.cutShortNow = resolve;
      if (this.cut) resolve();
    });
    const deadline = clock.monotonic() + options.graceMs;
    for (;;) {
      // A run approved meanwhile (its card was clicked) is waited for too.
      const now = working();
      for (const e of now)
        if (!waitedFor.has(e.runId as string))
          waitedFor.set(e.runId as string, store.getRun(e.runId as string) as Run);
      const left = deadline - clock.monotonic();
      if (!now.length || left <= 0 || this.cut) break;
      await Promise.race([Promise.all(now.map((e) => e.done)), clock.sleep(Math.min(left, 1000)), cut]);
    }

    const report: ShutdownReport = { reason, finished: [], abandoned: [], cutOff: [] };
    for (const id of waitedFor.keys()) {
      const run = store.getRun(id) as Run;
      if (run.status !== 'running') {
        report.finished.push({ runId: id, status: run.status });
        await tell({
          level: run.status === 'succeeded' ? 'info' : 'error',
          title: `${label(run)} ended ${run.status} before drbot stopped (${reason})`,
          lines: run.error ? [run.error] : [],
        });
        continue;
      }
      const given = await giveUp(
        deps,
        run,
        reason,
        this.cut ? 'a second signal ended the wait' : `the grace period of ${grace} ran out`,
      );
      report.abandoned.push(given.entry);
      await tell(given.notice);
    }
    report.cutOff = [...this.active]
      .filter((e) => !DESTRUCTIVE.has(e.kind) && e.runId && store.getRun(e.runId)?.status === 'running')
      .map((e) => e.runId as string);
    if (report.cutOff.length) {
      await tell({
        level: 'warn',
        title: `drbot is stopping (${reason}): ${report.cutOff.join(', ')} will not finish`,
        lines: ['They will show as interrupted when drbot starts again; run them again then.'],
      });
    }
    return report;
  }
}

function label(run: Run): string {
  return `${run.id} (${run.kind} ${run.target})`;
}

/**
 * A restore still working when drbot must stop: it may not begin replacing data now (a
 * cancel request stops it before its next stage), the containers it stopped are started
 * again, and the run is marked failed with why — never left `running` and silent.
 */
async function giveUp(
  deps: Pick<EngineDeps, 'store' | 'runtime' | 'clock'>,
  run: Run,
  reason: string,
  why: string,
): Promise<{ entry: ShutdownReport['abandoned'][number]; notice: Notice }> {
  const { store, clock } = deps;
  store.requestCancel(run.id, `drbot stopping (${reason})`, clock.now());
  const events = store.events(run.id);
  const stage = events.filter((e) => e.type === 'stage-start').at(-1)?.stage ?? 'assess';
  // Live data is replaced only in the restore stage, after its safety snapshot is complete.
  const replacing = events.some((e) => e.stage === 'restore' && e.type === 'stage-start');
  const result = restoreResult(run);
  const stopped = [...(result.stopped ?? [])];
  const toStart = [...stopped];
  const record = (type: 'info' | 'error', message: string) =>
    store.appendEvent(run.id, { at: clock.now(), stage, type, message });
  await startAgain(deps, { info: (m) => record('info', m), error: (m) => record('error', m) }, stopped).catch(
    () => undefined, // each failure is in the timeline, and `stopped` keeps the ones that failed
  );
  const startedAgain = toStart.filter((c) => !stopped.includes(c));
  const error = `drbot stopped (${reason}) before ${run.id} finished: ${why} during its ${stage} stage${startedAgain.length ? `; started again: ${startedAgain.join(', ')}` : ''}${stopped.length ? `; could not start: ${stopped.join(', ')}` : ''}`;
  record('error', error);
  store.updateRun(run.id, {
    status: 'failed',
    endedAt: clock.now(),
    error,
    result: { ...result, stopped, failures: [...(result.failures ?? []), error] },
  });
  const lines = [
    `${why[0]?.toUpperCase()}${why.slice(1)} during its ${stage} stage.`,
    startedAgain.length ? `Started again: ${startedAgain.join(', ')}.` : 'No service it stopped is down.',
    ...(stopped.length ? [`Could NOT start: ${stopped.join(', ')}: start them by hand.`] : []),
    !replacing
      ? 'It had not begun replacing live data: nothing was changed.'
      : result.safetySetId
        ? `Live data may be partly restored: its safety snapshot ${result.safetySetId} is intact, and undo ${run.id} puts it back.`
        : 'It had no complete safety snapshot yet: live data was most likely not touched, but check it before use.',
  ];
  return {
    entry: { runId: run.id, startedAgain, notStarted: stopped },
    notice: {
      level: 'error',
      title: `${label(run)} failed: drbot stopped (${reason}) before it finished`,
      lines,
    },
  };
}
