// The scheduler: cron ticks into backups, the drill, digests and the RPO check.
import cron, { type ScheduledTask } from 'node-cron';
import { firesInMinute, previousSlot } from '../domain/cron.js';
import { formatSpan } from '../domain/duration.js';
import type { BackupOutcome } from '../engine/backup/backup.js';
import type { Engine } from '../engine/engine.js';
import type { PingRun, SchedulePings } from '../engine/notify/pings.js';
import { describeError, ErrorCode, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../ports/notifier.js';
import { PitrLoop } from './pitr-loop.js';
import { RpoMonitor } from './rpo-monitor.js';

const DIGEST_NOTE = 'scheduler.digest';

/**
 * Runs drbot on its own: backups per schedule group (assets sharing a cron expression from
 * their tier or `backup` label), a deep verify after each, the daily recovery drill, the RPO
 * monitor every minute, and reports. node-cron supplies the minute tick; everything else is
 * plain methods that take the time, so tests drive them with a fake clock.
 */
export class Scheduler {
  /** Assets with a scheduled backup in flight: a second trigger for them is skipped. */
  private inFlight = new Set<string>();
  private task: ScheduledTask | undefined;
  readonly monitor: RpoMonitor;

  constructor(
    private readonly engine: Engine,
    private readonly notifier: Notifier,
    private readonly log: Logger,
    /** Dead-man's-switch pings of scheduled backups (`notifications.pings`). */
    private readonly pings?: SchedulePings,
  ) {
    this.monitor = new RpoMonitor(engine, notifier);
    this.pitr = new PitrLoop(engine, log);
  }

  /** The archive passes of point-in-time databases, on their own clock (see PitrLoop). */
  readonly pitr: PitrLoop;

  /** Starts the minute tick, and catches up once on schedules missed while drbot was down. */
  start(): void {
    const now = this.engine.now();
    this.task = cron.schedule('* * * * *', () => {
      void this.tick(this.engine.now()).catch((err) =>
        this.log.error({ err: describeError(err) }, 'scheduler tick failed'),
      );
    });
    void this.catchUp(now).catch((err) => this.log.error({ err: describeError(err) }, 'catch-up failed'));
    // Point-in-time recovery: binary logs archived continuously (DESIGN §11).
    this.pitr.start();
  }

  async stop(): Promise<void> {
    this.pitr.stop();
    await this.task?.stop();
  }

  /** Schedule groups now: cron expression → protected assets that follow it. */
  async groups(): Promise<Map<string, string[]>> {
    const inventory = await this.engine.inventory();
    const groups = new Map<string, string[]>();
    for (const a of inventory.assets) {
      if (a.policy.protected && a.policy.schedule)
        groups.set(a.policy.schedule, [...(groups.get(a.policy.schedule) ?? []), a.name]);
    }
    return groups;
  }

  /** One minute: backups whose slot is now, the drill, the digest, then the RPO check. */
  async tick(now: Date): Promise<void> {
    const { config } = this.engine;
    const jobs: Promise<unknown>[] = [];
    for (const [expr, assets] of await this.groups()) {
      if (firesInMinute(expr, now)) jobs.push(this.runGroup(expr, assets, 'schedule'));
    }
    if (firesInMinute(config.verify.schedule, now)) jobs.push(this.drill());
    if (config.slack.digest && firesInMinute(config.slack.digest, now)) jobs.push(this.postDigest());
    await Promise.all(jobs);
    await this.monitor.check(now);
  }

  /**
   * Once at start: a group whose last slot passed without a backup of some of its assets gets
   * one backup of those assets now — one, however many slots were missed.
   */
  async catchUp(now: Date): Promise<void> {
    const newestSets = this.engine.newestSetPerAsset();
    const newest = (asset: string) => newestSets.get(asset)?.createdAt;
    const jobs: Promise<unknown>[] = [];
    for (const [expr, assets] of await this.groups()) {
      const slot = previousSlot(expr, now);
      const missed = assets.filter((a) => (newest(a)?.getTime() ?? 0) < slot.getTime());
      if (missed.length) {
        this.log.info(
          { schedule: expr, assets: missed, slot: slot.toISOString() },
          'catching up a missed schedule',
        );
        jobs.push(this.runGroup(expr, missed, 'catch-up'));
      }
    }
    await Promise.all(jobs);
  }

  /** A scheduled backup of a group, then a deep verify of what it wrote; reported either way. */
  async runGroup(
    expr: string,
    assets: string[],
    reason: 'schedule' | 'catch-up',
  ): Promise<BackupOutcome | undefined> {
    const free = assets.filter((a) => !this.inFlight.has(a));
    const busy = assets.filter((a) => this.inFlight.has(a));
    if (busy.length)
      this.log.info({ assets: busy, schedule: expr }, 'skipped: a backup of these assets is still running');
    if (!free.length) return undefined;
    for (const a of free) this.inFlight.add(a);
    try {
      const ping = await this.pingRun(expr, free);
      let outcome: BackupOutcome;
      try {
        outcome = await this.engine.backup({
          target: `${reason} ${expr}`,
          assets: free,
          requester: 'scheduler',
          // `/start` once the run holds its assets: a run refused as busy sends no ping at all.
          ...(ping ? { observer: { onRunCreated: () => ping.start() } } : {}),
        });
      } catch (err) {
        const e = toAppError(err);
        if (e.code === ErrorCode.ASSET_BUSY) {
          this.log.info({ assets: free, err: e.message }, 'skipped: another run holds these assets');
          return undefined;
        }
        await Promise.all([
          this.notifier.alert({
            title: `Scheduled backup could not start (${expr})`,
            lines: [describeError(e)],
            level: 'error',
            event: 'backup-failed',
            assets: free,
          }),
          ping?.finish(false, [describeError(e)]),
        ]);
        return undefined;
      }
      await Promise.all([
        this.reportBackup(outcome, reason, free),
        ping?.finish(outcome.status === 'succeeded', outcome.failures),
      ]);
      if (outcome.status === 'succeeded' && this.engine.config.verify.afterBackup) {
        const v = await this.engine
          // Its turn behind a deep verify or drill in progress: never refused, or "verified" would lapse.
          .verify({ set: outcome.setId, deep: true, requester: 'scheduler', whenBusy: 'wait' })
          .catch((err) => {
            this.log.error({ err: describeError(err) }, 'verify after backup failed to run');
            return undefined;
          });
        if (v && v.status !== 'succeeded') {
          await this.notifier.alert({
            title: `Backup ${outcome.setId} failed its verification (${v.run.id})`,
            lines: v.failures,
            level: 'error',
            event: 'verify-failed',
            runId: v.run.id,
            assets: free,
          });
        }
      }
      return outcome;
    } finally {
      for (const a of free) this.inFlight.delete(a);
    }
  }

  /** The pings of a scheduled backup; undefined without any (or when the inventory cannot be read). */
  private async pingRun(expr: string, assets: string[]): Promise<PingRun | undefined> {
    if (!this.pings || this.pings.empty) return undefined;
    return this.pings.begin(expr, assets).catch((err) => {
      this.log.warn(
        { err: describeError(err), schedule: expr },
        'ping URLs not resolved: no pings for this backup',
      );
      return undefined;
    });
  }

  private async reportBackup(o: BackupOutcome, reason: string, assets: string[]): Promise<void> {
    const took =
      o.run.startedAt && o.run.endedAt
        ? formatSpan(o.run.endedAt.getTime() - o.run.startedAt.getTime())
        : '-';
    if (o.status !== 'succeeded') {
      await this.notifier.alert({
        title: `Scheduled backup failed: ${o.run.id}`,
        lines: o.failures,
        level: 'error',
        event: 'backup-failed',
        runId: o.run.id,
        assets,
      });
      return;
    }
    const lines = [
      ...o.artifacts.map((a) => `${a.asset}: ${a.file} ${a.size} bytes in ${formatSpan(a.ms)}`),
      `targets: ${o.targets.join(', ')}`,
    ];
    const notice = {
      title: `Backup ${o.run.id} (${reason}): set ${o.setId}, ${o.artifacts.length} asset(s) in ${took}`,
      lines,
      level: 'info' as const,
      event: 'backup-succeeded' as const,
      runId: o.run.id,
      assets,
    };
    if (this.engine.config.slack.digest) {
      const pending = JSON.parse(this.engine.note(DIGEST_NOTE) ?? '[]') as string[];
      this.engine.setNote(DIGEST_NOTE, JSON.stringify([...pending, notice.title]));
      return;
    }
    await this.notifier.report(notice);
  }

  private async postDigest(): Promise<void> {
    const pending = JSON.parse(this.engine.note(DIGEST_NOTE) ?? '[]') as string[];
    this.engine.setNote(DIGEST_NOTE, '[]');
    await this.notifier.report({
      title: `Backup digest: ${pending.length} scheduled backup(s)`,
      lines: pending.length ? pending : ['no scheduled backups since the last digest'],
      level: 'info',
      event: 'digest',
    });
  }

  /** The recovery drill on its schedule: deep-verify the newest backup of every asset. */
  private async drill(): Promise<void> {
    const o = await this.engine.test({ requester: 'scheduler', whenBusy: 'wait' }).catch((err) => {
      this.log.error({ err: describeError(err) }, 'recovery drill could not run');
      return undefined;
    });
    if (!o) return;
    const notice = {
      title: `Recovery drill ${o.run.id}: ${o.status}`,
      lines: o.deep.map((d) => `${d.ok ? 'pass' : 'FAIL'} ${d.asset}: ${d.detail}`),
      level: o.status === 'succeeded' ? ('info' as const) : ('error' as const),
      event: o.status === 'succeeded' ? ('drill-succeeded' as const) : ('drill-failed' as const),
      runId: o.run.id,
    };
    await (o.status === 'succeeded' ? this.notifier.report(notice) : this.notifier.alert(notice));
  }
}
