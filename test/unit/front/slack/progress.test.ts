// What a run's progress message puts in Slack: errors in its thread are capped and scrubbed.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Run } from '../../../../src/domain/runs.js';
import { MAX_THREAD_NOTE, ProgressMessage } from '../../../../src/front/slack/progress.js';
import type { SlackPoster } from '../../../../src/front/slack/slack-client.js';
import { registerSecret } from '../../../../src/secrets.js';

/** A poster that records every message and thread reply. */
function recordingPoster() {
  const posts: Array<{ text: string; blocks: unknown; thread: string | undefined }> = [];
  const poster = {
    post: async (_channel: string, text: string, blocks?: unknown, thread?: string) => {
      posts.push({ text, blocks, thread });
      return `1700000000.00000${posts.length}`;
    },
    tryOnce: async (fn: () => Promise<unknown>) => ({ ok: true, value: await fn() }),
    client: { chat: { update: async () => ({ ok: true }) } },
  } as unknown as SlackPoster;
  return { poster, posts };
}

const run = { id: 'run-5', kind: 'backup', target: 'db', requester: 'U1' } as unknown as Run;

describe('ProgressMessage: errors in the thread', () => {
  it('caps a long stderr-laden error and scrubs a short secret from it', async () => {
    const forget = registerSecret('p4');
    const { poster, posts } = recordingPoster();
    const progress = new ProgressMessage(poster, 'C1', '/dr backup db', 'U1', pino({ level: 'silent' }));
    progress.onRunCreated(run);
    const stderr = Array.from({ length: 400 }, (_, i) => `stderr line ${i} pw=p4`).join('\n');

    progress.onEvent(run, { stage: 'dump', type: 'error', message: `db: dump failed — stderr: ${stderr}` });
    await progress.finish('failed', 'backup failed');

    forget();
    const reply = posts.find((p) => p.thread && p.text.startsWith(':x:'));
    expect(reply).toBeDefined();
    expect(reply?.text.length).toBeLessThanOrEqual(MAX_THREAD_NOTE + 10);
    expect(reply?.text).toMatch(/… `\/dr run run-5`$/);
    expect(reply?.text).not.toContain('p4');
    expect(reply?.text).toContain('pw=[REDACTED]');
  });

  it('scrubs a failed stage note before cutting it, and the postmortem', async () => {
    const forget = registerSecret('Secr3t-Value-xyz');
    const { poster, posts } = recordingPoster();
    const progress = new ProgressMessage(poster, 'C1', '/dr restore db', 'U1', pino({ level: 'silent' }));
    progress.onRunCreated(run);

    progress.onEvent(run, {
      stage: 'dump',
      type: 'stage-end',
      message: `dump failed: ${'x'.repeat(290)}Secr3t-Value-xyz`,
      data: { ok: false },
    });
    await progress.finish('failed', 'failed', 'postmortem: login Secr3t-Value-xyz refused');

    forget();
    const all = JSON.stringify(posts) + JSON.stringify(progress.blocks());
    expect(all).not.toContain('Secr3t');
    expect(all).toContain('login [REDACTED] refused');
  });
});
