// A per-person limit on Slack commands that start runs (slack.rateLimit).

/** What the limiter says about one more run for a person. */
export type RateDecision = { ok: true } | { ok: false; retryInMs: number };

/**
 * At most `max` runs per person within any `windowMs` (a sliding window over the times of the
 * runs they started). Each run costs a dump, scratch containers or a restore on the production
 * host: one person — or one stuck script posting as them — must not queue hundreds.
 */
export class RunRateLimit {
  private readonly started = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    /** Milliseconds on the engine's clock. */
    private readonly now: () => number,
  ) {}

  /** Counts one run for `user` if the limit allows it; otherwise says when it will. */
  take(user: string): RateDecision {
    const now = this.now();
    const recent = (this.started.get(user) ?? []).filter((t) => now - t < this.windowMs);
    if (recent.length >= this.max) {
      this.started.set(user, recent);
      return { ok: false, retryInMs: (recent[0] as number) + this.windowMs - now };
    }
    recent.push(now);
    this.started.set(user, recent);
    // People who have not started anything for a window hold no memory.
    if (this.started.size > 1000)
      for (const [u, times] of this.started)
        if (times.every((t) => now - t >= this.windowMs)) this.started.delete(u);
    return { ok: true };
  }
}
