// Stopping drbot while runs work: no new run, a restore may finish, services are never left down.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import type { Run, RunKind } from '../../../../src/domain/runs.js';
import type { RunObserver } from '../../../../src/engine/runs/run-context.js';
import { RunTracker } from '../../../../src/engine/runs/shutdown.js';
import { AppError, ErrorCode } from '../../../../src/errors.js';
import { createLogger } from '../../../../src/log.js';
import { systemClock } from '../../../../src/ports/clock.js';
import type { Notice } from '../../../../src/ports/notifier.js';

/** An in-memory state, a runtime whose containers in `broken` refuse to start, and what was said. */
function setup(broken: string[] = []) {
  const store = openSqliteStore(':memory:');
  const started: string[] = [];
  const runtime = {
    startContainer: async (name: string) => {
      if (broken.includes(name)) throw new AppError(ErrorCode.DOCKER_FAILED, 'external', `${name} is gone`);
      started.push(name);
    },
  };
  const log = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'silent' });
  const deps = { store, runtime, clock: systemClock, log } as never;
  const notices: Notice[] = [];
  const notify = (n: Notice) => {
    notices.push(n);
  };
  return { store, deps, started, notices, notify, tracker: new RunTracker() };
}

/**
 * Starts a run of `kind` through the tracker as the engine does: it is recorded (status
 * `status`, in `stage`), then works until `finish` is called (or forever).
 */
function startRun(
  s: ReturnType<typeof setup>,
  kind: RunKind,
  options: { status?: Run['status']; stage?: string; stopped?: string[]; safetySetId?: string } = {},
) {
  let finish: (status: Run['status']) => void = () => undefined;
  let run: Run | undefined;
  const outcome = s.tracker.track(kind, {} as { observer?: RunObserver }, async (request) => {
    run = s.store.createRun({
      kind,
      requester: 'U0REQ',
      target: 'full',
      status: options.status ?? 'running',
      at: new Date(),
    });
    s.store.updateRun(run.id, {
      result: {
        assets: ['mysql-prod'],
        ...(options.stopped ? { stopped: options.stopped } : {}),
        ...(options.safetySetId ? { safetySetId: options.safetySetId } : {}),
      },
    });
    if (options.stage)
      s.store.appendEvent(run.id, {
        at: new Date(),
        stage: options.stage,
        type: 'stage-start',
        message: 'x',
      });
    request.observer?.onRunCreated?.(run);
    const status = await new Promise<Run['status']>((resolve) => {
      finish = resolve;
    });
    s.store.updateRun(run.id, { status, endedAt: new Date() });
    return status;
  });
  return { outcome, finish: (status: Run['status']) => finish(status), id: () => (run as Run).id };
}

describe('RunTracker.shutdown', () => {
  it('refuses every new run once a stop has begun', async () => {
    const s = setup();

    await s.tracker.shutdown(s.deps, { reason: 'SIGTERM', graceMs: 1000, notify: s.notify });
    const refused = await s.tracker.track('backup', {}, async () => 'ran').catch((e: AppError) => e);

    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe(ErrorCode.SHUTTING_DOWN);
    expect((refused as AppError).message).toBe(
      'drbot is shutting down (SIGTERM) and starts no new run; ask again once it is back',
    );
    expect(s.notices).toEqual([]);
  });

  it('waits for a restore that is replacing data, says so, and reports how it ended', async () => {
    const s = setup();
    const restore = startRun(s, 'restore', { stage: 'restore', stopped: ['web'] });
    await Promise.resolve();

    const stopping = s.tracker.shutdown(s.deps, { reason: 'SIGTERM', graceMs: 60_000, notify: s.notify });
    await new Promise((r) => setTimeout(r, 30));
    restore.finish('succeeded');
    const report = await stopping;

    expect(report.finished).toEqual([{ runId: restore.id(), status: 'succeeded' }]);
    expect(report.abandoned).toEqual([]);
    expect(s.notices.map((n) => n.title)).toEqual([
      `drbot is stopping (SIGTERM): it waits up to 1m for ${restore.id()} (restore full) to finish`,
      `${restore.id()} (restore full) ended succeeded before drbot stopped (SIGTERM)`,
    ]);
    expect(s.store.events(restore.id()).map((e) => e.message)).toContain(
      'drbot is stopping (SIGTERM): it waits up to 1m for this run to finish, and starts again whatever it stopped',
    );
    expect(s.started).toEqual([]);
  });

  it('gives up after the grace period: the run fails with why, and every service it stopped starts again', async () => {
    const s = setup(['worker']);
    const restore = startRun(s, 'restore', {
      stage: 'restore',
      stopped: ['web', 'worker', 'api'],
      safetySetId: 'set-safety',
    });
    await Promise.resolve();

    const report = await s.tracker.shutdown(s.deps, { reason: 'SIGTERM', graceMs: 50, notify: s.notify });

    const id = restore.id();
    const run = s.store.getRun(id) as Run;
    expect(s.started).toEqual(['api', 'web']);
    expect(report.abandoned).toEqual([{ runId: id, startedAgain: ['web', 'api'], notStarted: ['worker'] }]);
    expect(run.status).toBe('failed');
    expect(run.error).toBe(
      `drbot stopped (SIGTERM) before ${id} finished: the grace period of 50ms ran out during its restore stage; started again: web, api; could not start: worker`,
    );
    expect(run.kind === 'restore' && run.result.stopped).toEqual(['worker']);
    expect(s.store.cancelRequested(id)?.by).toBe('drbot stopping (SIGTERM)');
    const notice = s.notices.at(-1) as Notice;
    expect(notice.level).toBe('error');
    expect(notice.title).toBe(`${id} (restore full) failed: drbot stopped (SIGTERM) before it finished`);
    expect(notice.lines).toEqual([
      'The grace period of 50ms ran out during its restore stage.',
      'Started again: web, api.',
      'Could NOT start: worker: start them by hand.',
      `Live data may be partly restored: its safety snapshot set-safety is intact, and undo ${id} puts it back.`,
    ]);
  });

  it('stops waiting at a second signal', async () => {
    const s = setup();
    const restore = startRun(s, 'undo', { stage: 'verify' });
    await Promise.resolve();

    const stopping = s.tracker.shutdown(s.deps, { reason: 'SIGINT', graceMs: 3_600_000, notify: s.notify });
    await new Promise((r) => setTimeout(r, 20));
    s.tracker.cutShort();
    const report = await stopping;

    expect(report.abandoned.map((a) => a.runId)).toEqual([restore.id()]);
    expect(s.notices.at(-1)?.lines).toEqual([
      'A second signal ended the wait during its verify stage.',
      'No service it stopped is down.',
      'It had not begun replacing live data: nothing was changed.',
    ]);
  });

  it('does not wait for runs waiting for approval or for backups, and names the backups it cuts off', async () => {
    const s = setup();
    const pending = startRun(s, 'restore', { status: 'pending-approval', stage: 'assemble' });
    const backup = startRun(s, 'backup', { stage: 'dump' });
    await Promise.resolve();

    const report = await s.tracker.shutdown(s.deps, { reason: 'SIGTERM', graceMs: 60_000, notify: s.notify });

    expect(report.finished).toEqual([]);
    expect(report.abandoned).toEqual([]);
    expect(report.cutOff).toEqual([backup.id()]);
    expect(s.store.getRun(pending.id())?.status).toBe('pending-approval');
    expect(s.notices.map((n) => n.title)).toEqual([
      `drbot is stopping (SIGTERM): ${backup.id()} will not finish`,
    ]);
  });
});
