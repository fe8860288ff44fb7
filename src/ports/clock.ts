/** Time as a port, so tests move time instead of sleeping. */
export interface Clock {
  now(): Date;
  /** Waits; polling loops use it so tests can make waiting instant. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
