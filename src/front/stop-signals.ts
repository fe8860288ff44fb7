// SIGTERM and SIGINT for every front end: stop without leaving a restore half-done or services down.
import type { Engine } from '../engine/engine.js';
import type { ShutdownReport } from '../engine/runs/shutdown.js';
import { describeError } from '../errors.js';
import type { Notice } from '../ports/notifier.js';

export interface StopSignals {
  /** Settles once a signal came and the engine no longer waits for any run of this process. */
  stopped: Promise<{ signal: NodeJS.Signals; report: ShutdownReport }>;
  /** Removes the handlers (the work ended without a signal). */
  dispose(): void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Handles SIGTERM and SIGINT while a front end works: the first begins the engine's shutdown
 * (no new run; a restore or undo in progress may finish within `restore.shutdownGrace`, and the
 * services it stopped are started again whatever happens), a second stops waiting at once.
 * Without handlers, Node.js would exit on the spot: a `docker stop` during a restore left a
 * half-loaded database, its services down, and the run `running` until the next start.
 */
export function onStopSignals(
  engine: Engine,
  options: {
    notify: (notice: Notice) => Promise<void> | void;
    /** Runs first, on the first signal (the Slack app stops its scheduler here). */
    onSignal?: (signal: NodeJS.Signals) => Promise<void> | void;
  },
): StopSignals {
  let settle: (value: { signal: NodeJS.Signals; report: ShutdownReport }) => void = () => undefined;
  const stopped = new Promise<{ signal: NodeJS.Signals; report: ShutdownReport }>((resolve) => {
    settle = resolve;
  });
  let first: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (first) {
      engine.stopWaiting();
      return;
    }
    first = signal;
    void (async () => {
      let report: ShutdownReport = { reason: signal, finished: [], abandoned: [], cutOff: [] };
      try {
        await options.onSignal?.(signal);
        report = await engine.shutdown({ reason: signal, notify: options.notify });
      } catch (err) {
        await options.notify({ level: 'error', title: `stopping failed: ${describeError(err)}`, lines: [] });
      }
      settle({ signal, report });
    })();
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    stopped,
    dispose: () => {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}

/** The exit code of a process ended by `signal`, as shells report it (128 + its number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (signal === 'SIGINT' ? 2 : 15);
}

/** A notice as lines on a terminal's stderr. */
export function noticeText(notice: Notice): string {
  return `drbot: ${notice.title}${notice.lines.map((l) => `\n  ${l}`).join('')}\n`;
}
