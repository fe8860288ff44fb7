// One shared limit on deep verifies and recovery tests: each starts scratch copies of databases.
import { ErrorCode, userError } from '../../errors.js';

/** A deep verify or recovery test holding one of the slots. */
interface Holder {
  what: string;
  runId: string | undefined;
}

/** Slots taken in this process, and who waits for one (the scheduler's own runs). */
const holders = new Set<Holder>();
const waiting: Array<() => void> = [];

export interface DeepSlot {
  /** Records which run holds the slot (for the message a refused request gets). */
  bind(runId: string): void;
  release(): void;
}

/**
 * Takes one of `limit` slots for a deep verify or recovery test (`what`, e.g. `test all by
 * U0123`). They share one limit because each fills the production host with scratch database
 * containers: five `/dr test` at once would be five copies of every database. When all slots
 * are taken, a request from a person is refused naming the run(s) holding them; one that may
 * `wait` (the scheduler's) gets the next free slot, in order.
 */
export async function acquireDeepSlot(
  limit: number,
  what: string,
  whenBusy: 'refuse' | 'wait',
): Promise<DeepSlot> {
  while (holders.size >= limit) {
    if (whenBusy === 'refuse') {
      const running = [...holders].map((h) => `${h.runId ?? 'a run being set up'} (${h.what})`).join(', ');
      throw userError(
        ErrorCode.LIMIT_REACHED,
        `a deep verify or recovery test is already running: ${running}; drbot runs ${limit} at a time (verify.concurrency): try again when it has finished`,
      );
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  const holder: Holder = { what, runId: undefined };
  holders.add(holder);
  let released = false;
  return {
    bind: (runId) => {
      holder.runId = runId;
    },
    release: () => {
      if (released) return;
      released = true;
      holders.delete(holder);
      waiting.shift()?.();
    },
  };
}
