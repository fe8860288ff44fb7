// Builds the Slack-independent notifiers from `notifications`: webhooks and schedule pings, secrets read from the environment.
import type { Config } from '../../config.js';
import { parseSpan } from '../../domain/duration.js';
import type { Inventory } from '../../domain/inventory.js';
import { fanOut } from '../../engine/notify/fan-out.js';
import { type PingRule, SchedulePings } from '../../engine/notify/pings.js';
import { AppError, ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Clock } from '../../ports/clock.js';
import type { Notifier } from '../../ports/notifier.js';
import { registerSecret } from '../../secrets.js';
import type { DeliveryOptions } from './http-delivery.js';
import { pingSender } from './ping.js';
import { webhookNotifier } from './webhook-notifier.js';

export interface Notifications {
  /** One per configured webhook. */
  webhooks: Notifier[];
  /** Dead-man's-switch pings of scheduled backups. */
  pings: SchedulePings;
  /** `primary` (Slack, or the log) and every webhook, as one notifier (see fanOut). */
  notifier(primary: Notifier): Notifier;
}

/**
 * Reads `notifications` and the environment variables it names. A named variable that is unset
 * or empty stops start-up with CONFIG_INVALID naming the key and the variable (never a value).
 * Secret values (HMAC keys, URLs from the environment) are registered, so no log line shows them.
 */
export function buildNotifications(
  config: Config,
  env: NodeJS.ProcessEnv,
  deps: { clock: Clock; log: Logger; inventory: () => Promise<Inventory> },
): Notifications {
  const n = config.notifications;
  const problems: string[] = [];
  const fromEnv = (key: string, variable: string): string | undefined => {
    const value = env[variable];
    if (!value) {
      problems.push(`${key}: environment variable ${variable} is not set (it must hold the value)`);
      return undefined;
    }
    registerSecret(value);
    return value;
  };
  const urlOf = (key: string, entry: { url?: string | undefined; urlEnv?: string | undefined }) => {
    if (entry.url !== undefined) return entry.url;
    const value = fromEnv(`${key}.urlEnv`, entry.urlEnv as string);
    if (value !== undefined && !(URL.canParse(value) && /^https?:$/.test(new URL(value).protocol))) {
      problems.push(`${key}.urlEnv: ${entry.urlEnv} does not hold an http:// or https:// URL`);
      return undefined;
    }
    return value;
  };
  const delivery: DeliveryOptions = {
    clock: deps.clock,
    retry: {
      attempts: n.retry.attempts,
      backoffMs: parseSpan(n.retry.backoff) as number,
      maxBackoffMs: parseSpan(n.retry.maxBackoff) as number,
    },
    timeoutMs: parseSpan(n.timeout) as number,
  };
  const log = deps.log.child({ adapter: 'webhook' });
  const webhooks: Notifier[] = [];
  n.webhooks.forEach((w, i) => {
    const key = `notifications.webhooks.${i}`;
    const url = urlOf(key, w);
    const secret = w.secretEnv !== undefined ? fromEnv(`${key}.secretEnv`, w.secretEnv) : undefined;
    if (url !== undefined) webhooks.push(webhookNotifier({ url, secret, events: w.events }, delivery, log));
  });
  const rules: PingRule[] = [];
  n.pings.forEach((p, i) => {
    const url = urlOf(`notifications.pings.${i}`, p);
    if (url !== undefined) rules.push({ tier: p.tier, schedule: p.schedule, url });
  });
  if (problems.length)
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'user',
      `invalid configuration${config.source ? ` in ${config.source}` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  const pings = new SchedulePings(
    rules,
    pingSender(delivery, deps.log.child({ adapter: 'ping' })),
    deps.inventory,
  );
  return {
    webhooks,
    pings,
    // Always through fanOut, even alone: a notifier that throws then still fails nothing.
    notifier: (primary) => fanOut([primary, ...webhooks], log),
  };
}
