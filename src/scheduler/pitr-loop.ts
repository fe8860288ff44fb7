// Keeps binary logs and WAL flowing: an archive pass per point-in-time database every half of its `pitr` interval.
import type { DatabaseAsset } from '../domain/assets.js';
import type { Engine } from '../engine/engine.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';

/** How often the loop looks at what is due; passes themselves follow each database's interval. */
const TICK_MS = 1000;
/** How often the loop reads the inventory again (new databases, changed tiers). */
const INVENTORY_MS = 15_000;

/**
 * Runs an archive pass for each database whose tier has `pitr` every half of that interval,
 * so no log stays un-archived longer than the interval (a pass itself takes a moment). One
 * pass per database at a time; a failing pass is logged and tried again at the next turn (the
 * RPO monitor alerts when the logs stop flowing).
 */
export class PitrLoop {
  private timer: NodeJS.Timeout | undefined;
  private readonly due = new Map<string, number>();
  private readonly busy = new Set<string>();
  private stopped = true;
  private databases: { at: number; list: DatabaseAsset[] } | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly log: Logger,
    private readonly tickMs = TICK_MS,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Starts the passes that are due now; resolves when they are done (tests await it). */
  async turn(now = this.engine.now().getTime()): Promise<void> {
    let databases: DatabaseAsset[];
    try {
      // The inventory is read again every INVENTORY_MS, not at every tick.
      if (!this.databases || now - this.databases.at >= INVENTORY_MS)
        this.databases = { at: now, list: await this.engine.pitrDatabases() };
      databases = this.databases.list;
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'point-in-time archiving: inventory failed');
      return;
    }
    await Promise.all(
      databases.map(async (db) => {
        if (this.busy.has(db.name) || (this.due.get(db.name) ?? 0) > now) return;
        this.busy.add(db.name);
        this.due.set(db.name, now + Math.max(1000, (db.policy.pitrMs ?? 60_000) / 2));
        try {
          const pass = await this.engine.archiveLogs(db);
          if (pass.archived.length || pass.pruned)
            this.log.info(
              { asset: db.name, archived: pass.archived.map((l) => l.name), pruned: pass.pruned },
              'logs archived',
            );
        } finally {
          this.busy.delete(db.name);
        }
      }),
    );
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.turn()
        .catch((err) => this.log.error({ err: describeError(err) }, 'point-in-time archiving failed'))
        .finally(() => this.schedule());
    }, this.tickMs);
    // The loop never keeps a process alive by itself (the app's server does).
    this.timer.unref();
  }
}
