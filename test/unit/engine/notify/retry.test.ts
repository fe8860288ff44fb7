import { describe, expect, it } from 'vitest';
import { backoffDelay, type TryResult, withRetry } from '../../../../src/engine/notify/retry.js';
import { FakeClock } from '../../../fakes/fake-clock.js';

const policy = { attempts: 5, backoffMs: 1000, maxBackoffMs: 5000 };
const fail = (retry = true, retryAfterMs?: number): TryResult => ({
  ok: false,
  retry,
  cause: 'HTTP 503',
  retryAfterMs,
});

describe('withRetry', () => {
  it('waits 1 s, 2 s, 4 s, then the cap between tries, on the clock, and stops after the last try', async () => {
    const clock = new FakeClock();
    let tries = 0;

    const report = await withRetry(policy, clock, async () => {
      tries++;
      return fail();
    });

    expect(report).toEqual({ ok: false, attempts: 5, cause: 'HTTP 503', waits: [1000, 2000, 4000, 5000] });
    expect(tries).toBe(5);
    expect(clock.sleeps).toEqual([1000, 2000, 4000, 5000]);
  });

  it('stops at the first success', async () => {
    const clock = new FakeClock();
    const answers = [fail(), fail(), { ok: true as const }];

    const report = await withRetry(policy, clock, async (n) => answers[n - 1] as TryResult);

    expect(report).toEqual({ ok: true, attempts: 3, waits: [1000, 2000] });
  });

  it('does not retry a refusal another try would not change', async () => {
    const clock = new FakeClock();

    const report = await withRetry(policy, clock, async () => ({
      ok: false,
      retry: false,
      cause: 'HTTP 404',
    }));

    expect(report).toMatchObject({ ok: false, attempts: 1, cause: 'HTTP 404' });
    expect(clock.sleeps).toEqual([]);
  });

  it('counts an exception as a failed try with its message, and never throws', async () => {
    const clock = new FakeClock();

    const report = await withRetry({ ...policy, attempts: 2 }, clock, async () => {
      throw new Error('ECONNREFUSED');
    });

    expect(report).toEqual({ ok: false, attempts: 2, cause: 'ECONNREFUSED', waits: [1000] });
  });

  it('honours a Retry-After longer than the backoff, within the cap', async () => {
    expect(backoffDelay(policy, 1, 3000)).toBe(3000);
    expect(backoffDelay(policy, 1, 60_000)).toBe(5000);
    expect(backoffDelay(policy, 3, 100)).toBe(4000);
  });

  it('one attempt means no retry', async () => {
    const clock = new FakeClock();

    const report = await withRetry({ ...policy, attempts: 1 }, clock, async () => fail());

    expect(report.attempts).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });
});
