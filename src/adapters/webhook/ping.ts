// Dead-man's-switch pings (healthchecks.io / Uptime Kuma convention): <url>/start, <url>, <url>/fail.

import type { PingSignal, SendPing } from '../../engine/notify/pings.js';
import type { Logger } from '../../log.js';
import { scrub } from '../../secrets.js';
import { type DeliveryOptions, postWithRetry, redactUrl } from './http-delivery.js';

/** Longest body sent with a ping (healthchecks.io keeps the first 100 kB as the ping's log). */
const MAX_BODY = 10_000;

/** `<url>/start`, `<url>` or `<url>/fail`; a query string (a token, `?rid=`) stays at the end. */
export function pingUrl(base: string, signal: PingSignal): string {
  const u = new URL(base);
  const suffix = signal === 'success' ? '' : `/${signal}`;
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${suffix}`;
  return u.toString();
}

/**
 * Sends pings by POST with a short plain-text body (what ran, or why it failed), retried with
 * backoff. A ping that cannot be delivered is logged with its cause and never throws.
 */
export function pingSender(options: DeliveryOptions, log: Logger): SendPing {
  return async (url, signal, body) => {
    const report = await postWithRetry(
      {
        url: pingUrl(url, signal),
        body: scrub(body).slice(0, MAX_BODY),
        headers: () => ({ 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'drbot-ping/1' }),
      },
      options,
    );
    if (report.ok) log.debug({ to: redactUrl(url), signal, attempts: report.attempts }, 'ping sent');
    else
      log.warn(
        { to: redactUrl(url), signal, attempts: report.attempts, err: report.cause },
        'ping not delivered',
      );
  };
}
