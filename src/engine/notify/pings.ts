// Which ping URLs a scheduled backup reports to, and the start → success/fail order of its pings.
import type { Inventory } from '../../domain/inventory.js';

export type PingSignal = 'start' | 'success' | 'fail';
/** Sends one ping; resolves whether or not it got through (the sender logs what failed). */
export type SendPing = (url: string, signal: PingSignal, body: string) => Promise<void>;

/** `notifications.pings` entries with their URL read: a tier's scheduled backups, or a schedule group's. */
export interface PingRule {
  tier?: string | undefined;
  schedule?: string | undefined;
  url: string;
}

/** The pings of one scheduled backup: `start` when its run begins, then `success` or `fail`. */
export class PingRun {
  private started: Promise<void> | undefined;

  constructor(
    private readonly urls: readonly string[],
    private readonly send: SendPing,
    private readonly what: string,
  ) {}

  /** The run exists and holds its assets: `<url>/start`, sent without holding the backup up. */
  start(): void {
    this.started ??= Promise.all(this.urls.map((u) => this.send(u, 'start', this.what))).then(
      () => undefined,
    );
  }

  /**
   * `<url>` or `<url>/fail`, after the start ping has gone (or given up), so a monitor never
   * sees the end of a run before its start.
   */
  async finish(ok: boolean, lines: readonly string[]): Promise<void> {
    await this.started;
    const body = [this.what, ...lines].join('\n');
    await Promise.all(this.urls.map((u) => this.send(u, ok ? 'success' : 'fail', body)));
  }
}

/**
 * Matches scheduled backups to `notifications.pings`: a rule with `schedule` pings for the group
 * with exactly that cron expression, one with `tier` for any group holding an asset of that
 * tier. A group that two rules match pings each URL once.
 */
export class SchedulePings {
  constructor(
    private readonly rules: readonly PingRule[],
    private readonly send: SendPing,
    /** The inventory, for each asset's tier (the engine's, briefly cached). */
    private readonly inventory: () => Promise<Inventory>,
  ) {}

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The ping URLs for a backup of `assets` on the schedule `expr`. */
  async urlsFor(expr: string, assets: readonly string[]): Promise<string[]> {
    if (this.empty) return [];
    const byTier = this.rules.some((r) => r.tier !== undefined);
    const tiers = new Set<string>();
    if (byTier) {
      const inventory = await this.inventory();
      for (const a of inventory.assets) if (assets.includes(a.name)) tiers.add(a.policy.tier);
    }
    const urls = this.rules
      .filter((r) => (r.schedule !== undefined ? r.schedule === expr : tiers.has(r.tier as string)))
      .map((r) => r.url);
    return [...new Set(urls)];
  }

  /** The pings of one scheduled backup of `assets` (none when no rule matches). */
  async begin(expr: string, assets: readonly string[]): Promise<PingRun> {
    const what = `drbot scheduled backup (${expr}): ${assets.join(', ')}`;
    return new PingRun(await this.urlsFor(expr, assets), this.send, what);
  }
}
