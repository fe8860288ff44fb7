// What the one-shot CLI shows on stderr while a run works: its stages, and live byte counts on a TTY.
import { bytes, truncate } from '../../commands/format.js';
import { formatSpan } from '../domain/duration.js';
import type { Run, RunEventType } from '../domain/runs.js';
import type { ArtifactProgress, RunObserver } from '../engine/runs/run-context.js';
import { scrub } from '../secrets.js';

/** Where the lines go: process.stderr, or a fake terminal in tests. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number | undefined;
}

/** A failure's message can carry a tool's whole stderr tail; `drbot run <id>` has all of it. */
const MAX_LINE = 500;

/**
 * Prints each stage as it starts and ends (with its duration) and the run's messages, one line
 * each, so a log or a person can tell a long restore from a hung one. On a terminal it also
 * keeps one line per artifact whose bytes are moving (bytes, rate, ETA when the size is known)
 * at the bottom, redrawn in place like `docker pull`; elsewhere (a pipe, cron's mail, TERM=dumb)
 * it never draws them, so logs get no control characters.
 */
export class CliProgress implements RunObserver {
  /** Set only on a terminal: without it the engine does not count bytes for this run at all. */
  readonly onProgress?: (run: Run, progress: ArtifactProgress) => void;
  /** The artifacts in flight, in the order they started. */
  private readonly live = new Map<string, ArtifactProgress>();
  /** How many live lines are on the screen now, below the permanent ones. */
  private drawn = 0;

  constructor(private readonly out: ProgressOutput) {
    if (out.isTTY) this.onProgress = (_run, p) => this.progress(p);
  }

  onRunCreated(run: Run): void {
    this.print(`${run.id}: ${run.kind} ${run.target}`);
  }

  onEvent(
    run: Run,
    event: { stage: string | undefined; type: RunEventType; message: string; data?: Record<string, unknown> },
  ): void {
    const stage = event.stage ?? '';
    if (event.type === 'stage-start') {
      this.print(`→ ${stage}`);
      return;
    }
    if (event.type === 'stage-end') {
      // Whatever ended the stage, its transfers are over: their lines go.
      for (const [key, p] of this.live) if (p.stage === event.stage) this.live.delete(key);
      const ms = typeof event.data?.ms === 'number' ? ` (${formatSpan(event.data.ms)})` : '';
      this.print(
        event.data?.ok === false
          ? `✗ ${truncate(event.message, MAX_LINE)}${ms}; details: drbot run ${run.id}`
          : `✓ ${stage}${ms}`,
      );
      return;
    }
    const mark = event.type === 'warn' ? '! ' : event.type === 'error' ? '✗ ' : '';
    this.print(`  ${mark}${truncate(event.message, MAX_LINE)}`);
  }

  /** Takes the live lines off the screen (before the command's answer is printed). */
  close(): void {
    this.live.clear();
    this.out.write(this.erase());
  }

  private progress(p: ArtifactProgress): void {
    const key = `${p.stage ?? ''}\u0000${p.asset}\u0000${p.action}`;
    if (p.done) this.live.delete(key);
    else this.live.set(key, p);
    this.out.write(this.erase() + this.draw());
  }

  /** A permanent line: above the live ones, which are drawn again under it. */
  private print(line: string): void {
    this.out.write(`${this.erase()}${scrub(line)}\n${this.draw()}`);
  }

  /** Cursor up over the live lines, then clear to the end of the screen. */
  private erase(): string {
    if (!this.drawn) return '';
    const up = `\x1b[${this.drawn}A\r\x1b[J`;
    this.drawn = 0;
    return up;
  }

  private draw(): string {
    if (!this.live.size) return '';
    // A line wider than the terminal wraps, and the cursor-up count would no longer match.
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    const lines = [...this.live.values()].map((p) => truncate(scrub(progressLine(p)), width));
    this.drawn = lines.length;
    return lines.map((l) => `${l}\n`).join('');
  }
}

/** `  mysql-prod load  512.0 MiB / 1.2 GiB  42%  38.1 MiB/s  ETA 19s` (no size: no % or ETA). */
export function progressLine(p: ArtifactProgress): string {
  const seconds = (p.at.getTime() - p.startedAt.getTime()) / 1000;
  const rate = seconds > 0 ? p.bytes / seconds : undefined;
  const parts = [`  ${p.asset} ${p.action}`];
  if (p.total) {
    const pct = Math.min(100, Math.floor((p.bytes / p.total) * 100));
    parts.push(`${bytes(p.bytes)} / ${bytes(p.total)}`, `${pct}%`);
  } else {
    parts.push(bytes(p.bytes));
  }
  if (rate !== undefined) parts.push(`${bytes(Math.round(rate))}/s`);
  if (p.total && rate) parts.push(`ETA ${formatSpan((Math.max(0, p.total - p.bytes) / rate) * 1000)}`);
  return parts.join('  ');
}
