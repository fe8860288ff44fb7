// Bounded retries with exponential backoff on the engine's Clock, for deliveries to outside receivers.
import type { Clock } from '../../ports/clock.js';

export interface RetryPolicy {
  /** Tries in all, the first included (at least 1). */
  attempts: number;
  /** The wait after the first failed try; each later wait doubles it. */
  backoffMs: number;
  /** No wait is longer than this (a receiver's Retry-After included). */
  maxBackoffMs: number;
}

/** What one try gives back: done, or failed with whether another try may help. */
export type TryResult =
  | { ok: true }
  | { ok: false; retry: boolean; cause: string; retryAfterMs?: number | undefined };

export interface RetryReport {
  ok: boolean;
  /** Tries made. */
  attempts: number;
  /** Why the last try failed (unset when it succeeded). */
  cause?: string;
  /** The waits between tries, in order. */
  waits: number[];
}

/** The wait before try `n + 1` after `n` failed tries: backoff × 2^(n−1), capped. */
export function backoffDelay(policy: RetryPolicy, failed: number, retryAfterMs?: number): number {
  const exponential = policy.backoffMs * 2 ** Math.max(0, failed - 1);
  // A receiver that says how long to wait is believed, within the same cap.
  return Math.min(policy.maxBackoffMs, Math.max(exponential, retryAfterMs ?? 0));
}

/**
 * Runs `attempt` until it succeeds, fails for good (`retry: false`), or `policy.attempts` tries
 * are spent, sleeping on `clock` in between (so a test clock makes the waits instant). Never
 * throws: an exception from `attempt` counts as a failed try that may be retried.
 */
export async function withRetry(
  policy: RetryPolicy,
  clock: Clock,
  attempt: (n: number) => Promise<TryResult>,
): Promise<RetryReport> {
  const waits: number[] = [];
  for (let n = 1; ; n++) {
    let result: TryResult;
    try {
      result = await attempt(n);
    } catch (err) {
      result = { ok: false, retry: true, cause: err instanceof Error ? err.message : String(err) };
    }
    if (result.ok) return { ok: true, attempts: n, waits };
    if (!result.retry || n >= policy.attempts) return { ok: false, attempts: n, cause: result.cause, waits };
    const wait = backoffDelay(policy, n, result.retryAfterMs);
    waits.push(wait);
    await clock.sleep(wait);
  }
}
