/**
 * Failure injection for the fake Slack Web API: queued one-off failures (`failNext`), every
 * call failing (`failAll`, Slack down) and a sliding-window rate limit (`rateLimit`); 429s are
 * answered the way Slack does — HTTP 429, `Retry-After: <seconds>` and
 * `{ok:false, error:'ratelimited'}`.
 */

type Json = Record<string, unknown>;

export interface FailSpec {
  /** HTTP status; 429 by default. */
  status?: number;
  /** Seconds for `Retry-After` on a 429; `null` leaves the header out. Default 1. */
  retryAfter?: number | null;
  /** Slack error code in the body; `ratelimited` for 429, `fatal_error` otherwise. */
  error?: string;
}

export interface RateLimitSpec {
  perSecond: number;
  /** What shares one budget: the method (default), each channel, or each message (channel+ts). */
  per?: 'method' | 'channel' | 'message';
  /** Seconds sent in `Retry-After`; default 1. */
  retryAfter?: number;
}

/** A 429 the fake sent, from `failNext` or `rateLimit`. */
export interface RateLimitHit {
  method: string;
  /** What was limited: the method, a channel, or `channel:ts` of a message. */
  key: string;
  at: number;
  retryAfter: number | null;
}

export interface FaultAnswer {
  status: number;
  body: Json;
  headers?: Record<string, string>;
}

/** Decides whether a call fails before the method runs. */
export class FaultInjector {
  readonly rateLimited: RateLimitHit[] = [];
  private readonly queued = new Map<string, FailSpec[]>();
  private readonly rules = new Map<string, { spec: RateLimitSpec; hits: Map<string, number[]> }>();
  private everything: FailSpec | undefined;

  constructor(private readonly now: () => number) {}

  /** Every call to every method fails this way (Slack down) until called with `undefined`. */
  failAll(spec: FailSpec | undefined): void {
    this.everything = spec;
  }

  failNext(method: string, count: number, spec: FailSpec): void {
    const queue = this.queued.get(method) ?? [];
    for (let i = 0; i < count; i += 1) queue.push(spec);
    this.queued.set(method, queue);
  }

  rateLimit(method: string, spec: RateLimitSpec): void {
    this.rules.set(method, { spec, hits: new Map() });
  }

  /** The failure to answer for this call, if any; otherwise the call counts against its budget. */
  check(method: string, body: Json): FaultAnswer | undefined {
    if (this.everything) return this.fail(method, method, this.everything);
    const queued = this.queued.get(method)?.shift();
    if (queued) return this.fail(method, method, queued);
    const rule = this.rules.get(method);
    if (!rule) return undefined;
    const { spec } = rule;
    const channel = String(body.channel ?? '');
    const key =
      spec.per === 'channel'
        ? channel
        : spec.per === 'message'
          ? `${channel}:${String(body.ts ?? '')}`
          : method;
    const now = this.now();
    const recent = (rule.hits.get(key) ?? []).filter((at) => at > now - 1000);
    rule.hits.set(key, recent);
    // Rejected calls do not spend budget: a client that waits Retry-After gets through.
    if (recent.length >= spec.perSecond) {
      return this.fail(method, key, { status: 429, retryAfter: spec.retryAfter ?? 1 });
    }
    recent.push(now);
    return undefined;
  }

  private fail(method: string, key: string, spec: FailSpec): FaultAnswer {
    const status = spec.status ?? 429;
    if (status !== 429) return { status, body: { ok: false, error: spec.error ?? 'fatal_error' } };
    const retryAfter = spec.retryAfter === undefined ? 1 : spec.retryAfter;
    this.rateLimited.push({ method, key, at: this.now(), retryAfter });
    const body = { ok: false, error: spec.error ?? 'ratelimited' };
    return retryAfter === null
      ? { status, body }
      : { status, body, headers: { 'retry-after': String(retryAfter) } };
  }
}
