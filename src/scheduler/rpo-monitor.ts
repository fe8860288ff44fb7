// Every minute: RPO and missed-schedule breaches, alerted once and their recovery once.

import { previousSlot } from '../domain/cron.js';
import { formatSpan } from '../domain/duration.js';
import { rpoBreached } from '../domain/policy.js';
import type { Engine } from '../engine/engine.js';
import { describeGap } from '../engine/pitr/window.js';
import type { Notifier } from '../ports/notifier.js';
import type { AlertRecord } from '../ports/state-store.js';

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

export interface Breach {
  asset: string;
  kind: AlertRecord['kind'];
  detail: string;
}

/**
 * Every minute: for each protected asset, the age of its newest *verified* backup (one that a
 * deep verify restored) against its RPO, and whether its last scheduled slot produced a set.
 * A breach alerts once; its end is announced once; nothing repeats in between. The state is
 * kept in the state file, so a restart neither repeats nor forgets an alert.
 */
export class RpoMonitor {
  constructor(
    private readonly engine: Engine,
    private readonly notifier: Notifier,
  ) {}

  async check(now: Date): Promise<Breach[]> {
    const { engine } = this;
    const inventory = await engine.inventory();
    const newestSets = engine.newestSetPerAsset();
    const verifiedSets = engine.newestSetPerAsset({ deepVerified: true });
    const breaches: Breach[] = [];
    const current = new Map<string, Breach>();
    for (const asset of inventory.assets.filter((a) => a.policy.protected)) {
      const verified = verifiedSets.get(asset.name);
      const newest = newestSets.get(asset.name);
      const lastError = engine.lastFailure(asset.name)?.error;
      const errorNote = lastError ? `; last error: ${lastError}` : '';
      const rpo = asset.policy.rpoMs;
      // A point-in-time database is measured by how far its logs carry its verified dumps.
      const pitrMs = asset.kind === 'database' ? asset.policy.pitrMs : undefined;
      const point = pitrMs !== undefined ? engine.recoverablePoint(asset.name) : undefined;
      if (pitrMs !== undefined && point) {
        const age = now.getTime() - point.getTime();
        if (age > pitrMs) {
          const gaps = engine.pitrState(asset.name).gaps.map(describeGap);
          const detail = `${asset.name}: restorable only up to ${stamp(point)}, ${formatSpan(age)} ago (pitr ${formatSpan(pitrMs)}): its binary logs stopped flowing${gaps.length ? `; gap in the log chain: ${gaps.join('; ')}` : ''}${errorNote}`;
          current.set(`${asset.name}:rpo`, { asset: asset.name, kind: 'rpo', detail });
        }
      } else if (rpo !== undefined) {
        const age = verified ? now.getTime() - verified.createdAt.getTime() : undefined;
        if (rpoBreached(rpo, verified?.createdAt, now)) {
          const detail =
            age === undefined
              ? `${asset.name} has no verified backup (RPO ${formatSpan(rpo)})${newest ? `; newest unverified: ${newest.id}` : ''}${errorNote}`
              : `${asset.name}: newest verified backup ${verified?.id} is ${formatSpan(age)} old (RPO ${formatSpan(rpo)}), breached since ${stamp(new Date((verified as { createdAt: Date }).createdAt.getTime() + rpo))}${errorNote}`;
          current.set(`${asset.name}:rpo`, { asset: asset.name, kind: 'rpo', detail });
        }
      }
      if (asset.policy.schedule) {
        // The slot before the last one had its whole interval to produce a set: it must have.
        const slot = previousSlot(asset.policy.schedule, now);
        const before = previousSlot(asset.policy.schedule, new Date(slot.getTime() - 1000));
        if (!newest || newest.createdAt.getTime() < before.getTime()) {
          const detail = `${asset.name}: the ${asset.policy.schedule} schedule produced no backup since ${stamp(before)}${newest ? ` (newest ${newest.id})` : ''}${errorNote}`;
          current.set(`${asset.name}:schedule`, { asset: asset.name, kind: 'schedule', detail });
        }
      }
    }
    const known = new Map(engine.alerts().map((a) => [`${a.asset}:${a.kind}`, a]));
    for (const [key, b] of current) {
      breaches.push(b);
      const prior = known.get(key);
      if (prior?.open) continue; // announced already: no repeats
      engine.saveAlert({
        asset: b.asset,
        kind: b.kind,
        open: true,
        since: now,
        detail: b.detail,
        notifiedAt: now,
        closedAt: undefined,
      });
      await this.notifier.alert({
        title:
          b.kind === 'rpo'
            ? `:rotating_light: RPO breach: ${b.asset}`
            : `:rotating_light: Missed backup schedule: ${b.asset}`,
        lines: [b.detail],
        level: 'error',
        event: 'rpo-breach',
        assets: [b.asset],
      });
    }
    for (const [key, prior] of known) {
      if (!prior.open || current.has(key)) continue;
      engine.saveAlert({ ...prior, open: false, closedAt: now });
      await this.notifier.alert({
        title: `:white_check_mark: Recovered: ${prior.asset} ${prior.kind === 'rpo' ? 'is within its RPO again' : 'backups are on schedule again'}`,
        lines: [
          `${prior.kind === 'rpo' ? 'RPO breach' : 'missed schedule'} open since ${stamp(prior.since)}, cleared at ${stamp(now)} (${formatSpan(now.getTime() - prior.since.getTime())})`,
        ],
        level: 'info',
        event: 'rpo-recovered',
        assets: [prior.asset],
      });
    }
    return breaches;
  }
}
