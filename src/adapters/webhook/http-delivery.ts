// One HTTP request to an outside receiver (webhook, ping), retried with backoff; never throws.
import type { RetryPolicy, RetryReport, TryResult } from '../../engine/notify/retry.js';
import { withRetry } from '../../engine/notify/retry.js';
import type { Clock } from '../../ports/clock.js';
import { scrub } from '../../secrets.js';

export interface DeliveryOptions {
  clock: Clock;
  retry: RetryPolicy;
  /** How long one try may take. */
  timeoutMs: number;
}

export interface HttpRequest {
  url: string;
  body: string;
  /** Headers for try `n` (a signature is made afresh with each try's timestamp). */
  headers: (attempt: number) => Record<string, string>;
}

/**
 * A URL as logs may show it: scheme, host and port only. Ping and webhook URLs often carry
 * their token in the path or query (hc-ping.com/<uuid>, hooks.slack.com/services/…).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === '/' && !u.search ? u.origin : `${u.origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}

/** Statuses worth another try: timeouts, rate limits and server errors. */
function retryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds. */
function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** Why a fetch failed, without the URL (it may hold a token) and without registered secrets. */
function causeOf(err: unknown, url: string): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const text =
    e.name === 'TimeoutError' || e.name === 'AbortError'
      ? 'timed out'
      : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
  return scrub(text.split(url).join(redactUrl(url)));
}

/**
 * POSTs `request.body` until a 2xx answer, a refusal that another try would not change (a 4xx
 * other than 408/425/429), or the last of `retry.attempts` tries. Node's own fetch; the
 * response body is read and dropped so the connection is freed.
 */
export function postWithRetry(request: HttpRequest, options: DeliveryOptions): Promise<RetryReport> {
  return withRetry(options.retry, options.clock, async (attempt): Promise<TryResult> => {
    let res: Response;
    try {
      res = await fetch(request.url, {
        method: 'POST',
        headers: request.headers(attempt),
        body: request.body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      return { ok: false, retry: true, cause: causeOf(err, request.url) };
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { ok: true };
    return {
      ok: false,
      retry: retryable(res.status),
      cause: `HTTP ${res.status}`,
      retryAfterMs: retryAfterMs(res.headers.get('retry-after'), options.clock.now()),
    };
  });
}
