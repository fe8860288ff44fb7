// The live progress message of one run in Slack: stages, durations, and a thread of details.
import { formatSpan } from '../../domain/duration.js';
import type { Run, RunEventType, RunKind } from '../../domain/runs.js';
import type { RunObserver } from '../../engine/runs/run-context.js';
import type { Logger } from '../../log.js';
import { scrub } from '../../secrets.js';
import { type Block, capBlocks, clip, codeBlocks, context, fallback, section } from './blocks.js';
import type { SlackPoster } from './slack-client.js';

/** The stages each kind of run goes through, in the order the live message lists them. */
export const STAGES: Record<RunKind, string[]> = {
  backup: ['inventory', 'dump', 'verify', 'prune', 'report'],
  restore: ['assess', 'assemble', 'verify', 'restore', 'resume', 'postmortem'],
  undo: ['assess', 'assemble', 'verify', 'restore', 'resume', 'postmortem'],
  verify: ['checksums', 'deep'],
  test: ['checksums', 'deep'],
  prune: ['prune'],
};

/** Longest warning or error posted in a run's thread, in characters. */
export const MAX_THREAD_NOTE = 1500;

/** At most one chat.update per message per second (Slack's limit for message edits). */
export const MIN_UPDATE_INTERVAL_MS = 1000;

interface StageState {
  state: 'pending' | 'running' | 'ok' | 'failed' | 'waiting' | 'skipped';
  ms?: number;
  note?: string;
}

/**
 * One message per run, kept current with chat.update: the stage list with ✓ ⏳ ✗ ⏸ and
 * durations. Warnings and errors go as replies in its thread. Updates are coalesced to one per
 * second; a 429 delays only this message, by the Retry-After Slack gave.
 */
export class ProgressMessage implements RunObserver {
  run: Run | undefined;
  ts: string | undefined;
  private stages = new Map<string, StageState>();
  private status = 'running';
  private lastSent = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private dirty = false;
  private posting: Promise<void> | undefined;
  private thread: Promise<unknown> = Promise.resolve();
  private finished = false;

  constructor(
    private readonly poster: SlackPoster,
    private readonly channel: string,
    private readonly title: string,
    private readonly requester: string,
    private readonly log: Logger,
  ) {}

  onRunCreated(run: Run): void {
    this.run = run;
    for (const s of STAGES[run.kind] ?? []) this.stages.set(s, { state: 'pending' });
    this.posting = this.poster
      .post(this.channel, this.text(), this.blocks())
      .then((ts) => {
        this.ts = ts;
        this.lastSent = Date.now();
        if (this.dirty) this.schedule();
      })
      .catch((err) =>
        this.log.error({ err: (err as Error).message, runId: run.id }, 'progress message not posted'),
      );
  }

  onEvent(
    _run: Run,
    e: { stage: string | undefined; type: RunEventType; message: string; data?: Record<string, unknown> },
  ): void {
    if (e.stage && e.type === 'stage-start') {
      this.stages.set(e.stage, { state: e.stage === 'assemble' ? 'waiting' : 'running' });
      if (e.stage === 'assemble') this.status = 'pending-approval';
    } else if (e.stage && e.type === 'stage-end') {
      const ok = e.data?.ok === true;
      this.stages.set(e.stage, {
        state: ok ? 'ok' : 'failed',
        ...(typeof e.data?.ms === 'number' ? { ms: e.data.ms } : {}),
        // Scrubbed before line() cuts it, so no cut can leave part of a secret unmatched.
        ...(ok ? {} : { note: scrub(e.message.replace(/^\S+ failed: /, '')) }),
      });
      if (e.stage === 'assemble' && ok) this.status = 'running';
    } else if (e.type === 'warn' || e.type === 'error') {
      // A failure's message can carry kilobytes of a tool's stderr: the thread gets its scrubbed
      // start, `/dr run` the whole record.
      const message = clip(scrub(e.message), MAX_THREAD_NOTE, `\`/dr run ${this.run?.id ?? ''}\``);
      this.reply(`${e.type === 'error' ? ':x:' : ':warning:'} ${message}`);
    }
    this.schedule();
  }

  /** Final state of the message, then the full result (and postmortem) in its thread. */
  async finish(status: string, result: string, postmortem?: string): Promise<void> {
    const resultText = scrub(result);
    this.status = status;
    this.finished = true;
    for (const [name, s] of this.stages)
      if (s.state === 'running' || s.state === 'waiting')
        this.stages.set(name, { ...s, state: status === 'succeeded' ? 'ok' : 'failed' });
    await this.posting;
    await this.flushNow();
    const pointer = this.run ? `full output: \`/dr run ${this.run.id}\`` : '';
    this.reply(clip(resultText, 300), codeBlocks(resultText, pointer));
    if (postmortem && this.run) {
      this.reply(
        `Postmortem for ${this.run.id}`,
        codeBlocks(scrub(postmortem), `full postmortem: \`/dr run ${this.run.id} --postmortem\``, 10),
      );
    }
    await this.thread;
  }

  /** A reply in the run's thread (after the message exists), in order. */
  reply(text: string, blocks?: Block[]): void {
    this.thread = this.thread
      .then(async () => {
        await this.posting;
        if (!this.ts) return;
        await this.poster.post(
          this.channel,
          fallback(scrub(text)),
          blocks ? capBlocks(blocks, '') : undefined,
          this.ts,
        );
      })
      .catch((err) => this.log.warn({ err: (err as Error).message }, 'thread reply not posted'));
  }

  private schedule(): void {
    this.dirty = true;
    if (!this.ts || this.timer || this.inflight) return;
    const wait = Math.max(0, this.lastSent + MIN_UPDATE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, wait);
  }

  private async send(): Promise<void> {
    if (!this.ts || !this.dirty) return;
    this.dirty = false;
    const ts = this.ts;
    this.inflight = (async () => {
      const res = await this.poster
        .tryOnce(() =>
          this.poster.client.chat.update({
            channel: this.channel,
            ts,
            text: this.text(),
            blocks: this.blocks() as never,
          }),
        )
        .catch((err) => {
          this.log.warn({ err: (err as Error).message }, 'progress update failed');
          return { ok: true as const, value: undefined };
        });
      this.lastSent = Date.now();
      if (!res.ok) {
        // Rate limited: this message waits what Slack asked; the others carry on.
        this.dirty = true;
        this.lastSent = Date.now() + res.retryAfterMs - MIN_UPDATE_INTERVAL_MS;
      }
    })();
    await this.inflight;
    this.inflight = undefined;
    if (this.dirty) this.schedule();
  }

  /** The final update: waits out the 1/s spacing and any Retry-After, and is not coalesced away. */
  private async flushNow(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (let attempt = 0; attempt < 20 && this.ts; attempt++) {
      if (this.inflight) await this.inflight;
      const wait = this.lastSent + MIN_UPDATE_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.dirty = true;
      await this.send();
      if (!this.dirty) return;
    }
  }

  private line(name: string, s: StageState): string {
    const icon = { pending: '◻️', running: '⏳', ok: '✓', failed: '✗', waiting: '⏸', skipped: '–' }[s.state];
    const dur = s.ms !== undefined ? ` ${formatSpan(s.ms)}` : '';
    const note = s.note ? ` — ${clip(s.note, 300)}` : s.state === 'waiting' ? ' — waiting for approval' : '';
    return `${icon} *${name}*${dur}${note}`;
  }

  text(): string {
    return fallback(scrub(`${this.title} ${this.run?.id ?? ''}: ${this.status}`));
  }

  blocks(): Block[] {
    const id = this.run?.id ?? '';
    const head = `*${this.title}* · ${id} · requested by <@${this.requester}>`;
    const lines = [...this.stages].map(([n, s]) => this.line(n, s));
    const state = this.finished
      ? `*${this.status}*`
      : this.status === 'pending-approval'
        ? 'waiting for approval'
        : 'in progress';
    return capBlocks(
      [section(scrub(head)), section(scrub(lines.join('\n'))), context([`${state} · details in the thread`])],
      `\`/dr run ${id}\``,
    );
  }
}
