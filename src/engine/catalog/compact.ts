// Catalog upkeep: rows of long-pruned artifacts removed, old runs' info events folded into a summary.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CompactionStep } from '../../ports/state-store.js';
import type { EngineDeps } from '../deps.js';

/** How long the rows of a pruned artifact stay (so `run`/`status` can still say it was pruned). */
export const PRUNED_ROWS_KEPT_MS = 30 * 86_400_000;
/** How long a finished run keeps its fine-grained (info) events before they are summarised. */
export const RUN_EVENTS_KEPT_MS = 90 * 86_400_000;
/** Rows one step touches: a step is one short transaction, and the event loop runs in between. */
const STEP = 100;

export type CompactionReport = Omit<CompactionStep, 'more'>;

/**
 * Keeps the state file proportional to what is kept: removes the rows of artifacts pruned more
 * than PRUNED_ROWS_KEPT_MS ago (and their sets once empty), and folds the info events of runs
 * finished more than RUN_EVENTS_KEPT_MS ago into a per-stage summary on the run. Works in short
 * steps so nothing waits on it; the space freed is reused by new rows.
 */
export async function compactCatalog(deps: Pick<EngineDeps, 'store' | 'clock'>): Promise<CompactionReport> {
  const now = deps.clock.now();
  const total: CompactionReport = { artifacts: 0, sets: 0, runs: 0, events: 0 };
  for (;;) {
    const step = deps.store.compactBatch({
      at: now,
      prunedBefore: new Date(now.getTime() - PRUNED_ROWS_KEPT_MS),
      eventsBefore: new Date(now.getTime() - RUN_EVENTS_KEPT_MS),
      limit: STEP,
    });
    total.artifacts += step.artifacts;
    total.sets += step.sets;
    total.runs += step.runs;
    total.events += step.events;
    if (!step.more) return total;
    await yieldToLoop();
  }
}
