// The notifier port as a JSON webhook: each notice POSTed, optionally HMAC-signed, retried with backoff.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { Notice, NoticeEvent, Notifier } from '../../ports/notifier.js';
import { scrub } from '../../secrets.js';
import { type DeliveryOptions, postWithRetry, redactUrl } from './http-delivery.js';
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from './signature.js';

/** One configured webhook, its secrets already read from the environment. */
export interface WebhookTarget {
  url: string;
  /** The HMAC key; unsigned when unset. */
  secret?: string | undefined;
  /** Only these events; all when unset. */
  events?: readonly NoticeEvent[] | undefined;
}

/**
 * The JSON body of every delivery (version 1; README "Webhook payload"). Keys are always
 * present: `runId` is null and `assets` empty when the notice has none.
 */
export interface WebhookPayload {
  version: 1;
  source: 'drbot';
  /** This delivery's id: the same on every retry of it, so a receiver can drop duplicates. */
  id: string;
  event: NoticeEvent;
  /** `report` (the reports channel's kind of news) or `alert` (the alerts channel's). */
  kind: 'report' | 'alert';
  level: Notice['level'];
  title: string;
  lines: string[];
  assets: string[];
  runId: string | null;
  /** When drbot sent it, ISO 8601 UTC. */
  time: string;
}

/** Slack's `:emoji:` codes at the start of a title mean nothing to other receivers. */
const plain = (text: string) => scrub(text.replace(/^(?::[a-z0-9_+-]+:\s*)+/, ''));

export function webhookPayload(
  notice: Notice,
  kind: 'report' | 'alert',
  at: Date,
  id: string,
): WebhookPayload {
  return {
    version: 1,
    source: 'drbot',
    id,
    event: notice.event ?? 'notice',
    kind,
    level: notice.level,
    title: plain(notice.title),
    lines: notice.lines.map(scrub),
    assets: notice.assets ?? [],
    runId: notice.runId ?? null,
    time: at.toISOString(),
  };
}

/**
 * Posts notices to `target.url` as JSON. With a secret, each try carries `X-Drbot-Timestamp`
 * (Unix seconds) and `X-Drbot-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
 * A delivery that fails after its retries is logged with its cause (never the URL's path or
 * the secret) and resolves all the same: a webhook never fails what it reports on.
 */
export function webhookNotifier(target: WebhookTarget, options: DeliveryOptions, log: Logger): Notifier {
  const to = redactUrl(target.url);
  const send = async (notice: Notice, kind: 'report' | 'alert'): Promise<void> => {
    const payload = webhookPayload(notice, kind, options.clock.now(), randomUUID());
    if (target.events && !target.events.includes(payload.event)) return;
    const body = JSON.stringify(payload);
    const report = await postWithRetry(
      {
        url: target.url,
        body,
        headers: () => {
          const headers: Record<string, string> = {
            'content-type': 'application/json',
            'user-agent': 'drbot-webhook/1',
            'x-drbot-event': payload.event,
            'x-drbot-delivery': payload.id,
          };
          if (target.secret) {
            const ts = Math.floor(options.clock.now().getTime() / 1000);
            headers[TIMESTAMP_HEADER] = String(ts);
            headers[SIGNATURE_HEADER] = signBody(target.secret, ts, body);
          }
          return headers;
        },
      },
      options,
    );
    if (report.ok) log.debug({ to, event: payload.event, attempts: report.attempts }, 'webhook delivered');
    else
      log.warn(
        { to, event: payload.event, delivery: payload.id, attempts: report.attempts, err: report.cause },
        'webhook not delivered',
      );
  };
  return { report: (n) => send(n, 'report'), alert: (n) => send(n, 'alert') };
}
