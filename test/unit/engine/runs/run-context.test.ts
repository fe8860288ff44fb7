import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import {
  type ArtifactProgress,
  combineObservers,
  RunContext,
  type RunObserver,
} from '../../../../src/engine/runs/run-context.js';
import { createLogger } from '../../../../src/log.js';
import type { Clock } from '../../../../src/ports/clock.js';

/** A clock the test moves; nothing here waits. */
function stepClock(start: Date) {
  let t = start.getTime();
  const clock: Clock = { now: () => new Date(t), monotonic: () => t, sleep: async () => undefined };
  return { clock, advance: (ms: number) => (t += ms) };
}

function runContext(observer: RunObserver, clock: Clock) {
  const store = openSqliteStore(':memory:');
  const run = store.createRun({
    kind: 'restore',
    requester: 'u',
    target: 'db-only',
    status: 'running',
    at: clock.now(),
  });
  const log = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'silent' });
  return { store, run, ctx: new RunContext(run, store, clock, log, observer) };
}

describe('RunContext.watchBytes', () => {
  it('reports an artifact’s bytes at most twice a second and once at its end, never in the timeline', async () => {
    const { clock, advance } = stepClock(new Date('2026-03-10T12:00:00Z'));
    const heard: ArtifactProgress[] = [];
    const { store, run, ctx } = runContext(combineObservers({ onProgress: (_r, p) => heard.push(p) }), clock);
    const stream = new PassThrough();
    stream.resume();

    await ctx.stage('restore', async () => {
      ctx.watchBytes(stream, { asset: 'main', action: 'load', total: 40 * 1024 });
      // 40 chunks of 1 KiB, one every 100 ms: 4 seconds of transfer.
      for (let i = 0; i < 40; i++) {
        stream.write(Buffer.alloc(1024));
        advance(100);
      }
      stream.end();
      await new Promise((resolve) => stream.once('end', resolve));
    });

    expect(heard.length).toBeLessThanOrEqual(2 * 4 + 2);
    expect(heard.length).toBeGreaterThanOrEqual(4);
    const last = heard.at(-1) as ArtifactProgress;
    expect(last).toMatchObject({
      asset: 'main',
      action: 'load',
      stage: 'restore',
      bytes: 40 * 1024,
      done: true,
    });
    expect(last.total).toBe(40 * 1024);
    const ticks = heard.filter((p) => !p.done).map((p) => p.at.getTime());
    for (let i = 1; i < ticks.length; i++)
      expect((ticks[i] as number) - (ticks[i - 1] as number)).toBeGreaterThanOrEqual(500);
    expect(store.events(run.id).map((e) => e.type)).toEqual(['stage-start', 'stage-end']);
  });

  it('does not even listen to the stream when no observer draws progress', () => {
    const { clock } = stepClock(new Date());
    const { ctx } = runContext(combineObservers({ onEvent: () => undefined }, undefined), clock);
    const stream = new PassThrough();

    ctx.watchBytes(stream, { asset: 'main', action: 'dump' });

    expect(stream.listenerCount('data')).toBe(0);
  });
});
