// A run's context (record, logger, durable timeline) and the observers that follow it live.
import type { Run, RunEventType } from '../../domain/runs.js';
import { AppError, describeError, ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Clock } from '../../ports/clock.js';
import type { StateStore } from '../../ports/state-store.js';

/**
 * How far one artifact's bytes have got. Observers hear it at most every PROGRESS_INTERVAL_MS
 * per artifact; it is never written to the timeline (an hour-long load would add thousands of
 * rows that say nothing a stage's end does not).
 */
export interface ArtifactProgress {
  asset: string;
  /** What is done with the bytes: `dump`, `archive`, `load` … */
  action: string;
  stage: string | undefined;
  bytes: number;
  /** Bytes in all, when known beforehand (a restore reads an artifact of known size). */
  total: number | undefined;
  startedAt: Date;
  at: Date;
  /** The last report: the stream ended. */
  done: boolean;
}

/** At most two progress reports a second per artifact: enough for a live line, cheap to make. */
export const PROGRESS_INTERVAL_MS = 500;

/** Something that wants to hear about a run's progress as it happens (terminal, Slack). */
export interface RunObserver {
  /** The run exists (it has its id); its stages have not started. */
  onRunCreated?(run: Run): void;
  onEvent?(
    run: Run,
    event: {
      stage: string | undefined;
      type: RunEventType;
      message: string;
      at: Date;
      data?: Record<string, unknown>;
    },
  ): void;
  /** Bytes moving for one artifact (see ArtifactProgress); only observers that draw them ask. */
  onProgress?(run: Run, progress: ArtifactProgress): void;
}

/** Several observers as one (the front end's for this request, and the global one for reports). */
export function combineObservers(...observers: Array<RunObserver | undefined>): RunObserver {
  const list = observers.filter((o): o is RunObserver => o !== undefined);
  // Without a listener for progress, the engine does not count bytes for it at all.
  const progress = list.filter((o) => o.onProgress);
  return {
    onRunCreated: (run) => {
      for (const o of list) o.onRunCreated?.(run);
    },
    onEvent: (run, event) => {
      for (const o of list) o.onEvent?.(run, event);
    },
    ...(progress.length
      ? {
          onProgress: (run: Run, p: ArtifactProgress) => {
            for (const o of progress) o.onProgress?.(run, p);
          },
        }
      : {}),
  };
}

/**
 * One run's context: its record, its child logger and its append-only timeline. Stages are
 * recorded with start and end (and the error that ended them); the store keeps them durable.
 */
export class RunContext {
  readonly log: Logger;

  constructor(
    readonly run: Run,
    private readonly store: StateStore,
    private readonly clock: Clock,
    log: Logger,
    private readonly observer: RunObserver = {},
  ) {
    this.log = log.child({ runId: run.id });
    this.observer.onRunCreated?.(run);
  }

  /** The stage in progress: events without an explicit stage belong to it. */
  private current: string | undefined;

  /** Stages a cancel request may stop before (a restore cannot be stopped once replacing data). */
  cancellableStages: ReadonlySet<string> | undefined;

  async stage<T>(name: string, fn: (log: Logger) => Promise<T>): Promise<T> {
    const cancel = this.store.cancelRequested(this.run.id);
    if (cancel && (!this.cancellableStages || this.cancellableStages.has(name))) {
      throw new AppError(ErrorCode.CANCELLED, 'user', `cancelled by ${cancel.by} before ${name}`);
    }
    const log = this.log.child({ stage: name });
    this.current = name;
    const started = this.clock.now();
    this.event('stage-start', `${name} started`, name);
    try {
      const result = await fn(log);
      this.event('stage-end', `${name} finished`, name, {
        ok: true,
        ms: this.clock.now().getTime() - started.getTime(),
      });
      return result;
    } catch (err) {
      this.event('stage-end', `${name} failed: ${describeError(err)}`, name, {
        ok: false,
        ms: this.clock.now().getTime() - started.getTime(),
      });
      throw err;
    } finally {
      this.current = undefined;
    }
  }

  /**
   * Reports the bytes that flow out of `stream` (one artifact's) to the observers, throttled,
   * and not to the timeline. Listening to 'data' beside the pipe that consumes the stream adds
   * no copy and no stage to the pipeline; with no observer that draws progress it does nothing.
   */
  watchBytes(
    stream: NodeJS.EventEmitter,
    what: { asset: string; action: string; total?: number | undefined },
  ): void {
    if (!this.observer.onProgress) return;
    const startedAt = this.clock.now();
    const stage = this.current;
    let bytes = 0;
    let last = Number.NEGATIVE_INFINITY;
    const report = (at: Date, done: boolean) =>
      this.observer.onProgress?.(this.run, {
        asset: what.asset,
        action: what.action,
        stage,
        bytes,
        total: what.total,
        startedAt,
        at,
        done,
      });
    stream.on('data', (chunk: { length: number }) => {
      bytes += chunk.length;
      const at = this.clock.now();
      if (at.getTime() - last < PROGRESS_INTERVAL_MS) return;
      last = at.getTime();
      report(at, false);
    });
    stream.once('end', () => report(this.clock.now(), true));
  }

  info(message: string, data?: Record<string, unknown>, stage?: string): void {
    this.event('info', message, stage, data);
  }

  warn(message: string, data?: Record<string, unknown>, stage?: string): void {
    this.log.warn({ ...data, stage }, message);
    this.event('warn', message, stage, data);
  }

  error(message: string, data?: Record<string, unknown>, stage?: string): void {
    this.log.error({ ...data, stage }, message);
    this.event('error', message, stage, data);
  }

  private event(
    type: RunEventType,
    message: string,
    stage: string | undefined,
    data?: Record<string, unknown>,
  ): void {
    const at = this.clock.now();
    const st = stage ?? this.current;
    this.store.appendEvent(this.run.id, {
      at,
      type,
      message,
      ...(st ? { stage: st } : {}),
      ...(data ? { data } : {}),
    });
    this.observer.onEvent?.(this.run, { stage: st, type, message, at, ...(data ? { data } : {}) });
  }
}
