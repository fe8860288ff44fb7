// The Slack Web API calls drbot makes, with retries on rate limits.
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../log.js';

/** The Web API calls drbot makes; manifest.json grants exactly the scopes these need. */
export const SLACK_METHODS_USED = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'usergroups.users.list': 'usergroups:read',
} as const;

function retryAfterOf(err: unknown): number | undefined {
  const e = err as { code?: string; retryAfter?: number };
  return e.code === 'slack_webapi_rate_limited_error' ? (e.retryAfter ?? 1) : undefined;
}

/**
 * A thin wrapper over the WebClient. The client is built with `rejectRateLimitedCalls`, so a
 * 429 pauses only the call that got it (honouring Retry-After) instead of every message.
 */
export class SlackPoster {
  constructor(
    readonly client: WebClient,
    private readonly log: Logger,
  ) {}

  async call<T>(what: string, fn: () => Promise<T>, attempts = 6): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        const wait = retryAfterOf(err);
        if (wait === undefined || i >= attempts) throw err;
        this.log.warn({ what, retryAfter: wait }, 'slack rate limited: waiting');
        await new Promise((r) => setTimeout(r, wait * 1000));
      }
    }
  }

  /** Like `call`, but on a 429 gives back the wait instead of waiting (for coalesced updates). */
  async tryOnce<T>(
    fn: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; retryAfterMs: number }> {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      const wait = retryAfterOf(err);
      if (wait === undefined) throw err;
      return { ok: false, retryAfterMs: wait * 1000 };
    }
  }

  async post(
    channel: string,
    text: string,
    blocks?: unknown[],
    threadTs?: string,
  ): Promise<string | undefined> {
    const res = await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({
        channel,
        text,
        ...(blocks ? { blocks: blocks as never } : {}),
        ...(threadTs ? { thread_ts: threadTs } : {}),
      }),
    );
    return res.ts;
  }

  async ephemeral(channel: string, user: string, text: string, blocks?: unknown[]): Promise<void> {
    await this.call('chat.postEphemeral', () =>
      this.client.chat.postEphemeral({ channel, user, text, ...(blocks ? { blocks: blocks as never } : {}) }),
    );
  }

  async update(channel: string, ts: string, text: string, blocks: unknown[]): Promise<void> {
    await this.call('chat.update', () =>
      this.client.chat.update({ channel, ts, text, blocks: blocks as never }),
    );
  }
}
