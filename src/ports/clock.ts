/** Time as a port, so tests move time instead of sleeping. */
export interface Clock {
  /** Wall-clock time: what is recorded and shown. */
  now(): Date;
  /**
   * Milliseconds on a clock that never jumps (deadlines and durations); only differences
   * mean anything. A test clock advances it as it sleeps.
   */
  monotonic(): number;
  /** Waits; polling loops use it so tests can make waiting instant. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonic: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
