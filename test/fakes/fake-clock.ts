// A Clock for unit tests: time moves only when the test or a sleeping poller moves it.
import type { Clock } from '../../src/ports/clock.js';

/**
 * Wall-clock and monotonic time that stand still until moved. `sleep` advances both at once and
 * returns on the next turn of the event loop, so a polling loop with a five-minute deadline
 * runs to its end in milliseconds of real time, and the test can read how long it "waited".
 */
export class FakeClock implements Clock {
  private wall: number;
  private mono = 0;
  /** Every sleep asked for, in order (how a poller paced itself). */
  readonly sleeps: number[] = [];

  constructor(start: Date | string = '2026-03-02T10:00:00Z') {
    this.wall = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.wall);
  }

  monotonic(): number {
    return this.mono;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.advance(ms);
    // Yield as a real timer would, so other work (streams, other pollers) gets its turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Moves both clocks forward, as time passing between two steps of a test. */
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }

  /** Total time slept so far. */
  get slept(): number {
    return this.sleeps.reduce((a, b) => a + b, 0);
  }
}
