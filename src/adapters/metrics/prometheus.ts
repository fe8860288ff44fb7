// The Prometheus `/metrics` figures, computed from the state at scrape time.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import type { Engine } from '../../engine/engine.js';

const seconds = (d: Date) => d.getTime() / 1000;

/**
 * The Prometheus text endpoint: figures computed from the state file at scrape time (so a
 * CLI run or a restart is reflected too): last successful and last verified backup per asset,
 * run outcomes and durations, RPO breach state.
 */
export function createMetrics(engine: Engine): {
  registry: Registry;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
} {
  const registry = new Registry();

  new Gauge({
    name: 'drbot_last_backup_timestamp_seconds',
    help: 'Time of the newest complete backup set holding the asset',
    labelNames: ['asset'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [asset, s] of engine.newestSetPerAsset()) this.set({ asset }, seconds(s.createdAt));
    },
  });
  new Gauge({
    name: 'drbot_last_verified_backup_timestamp_seconds',
    help: 'Time of the newest backup of the asset that a deep verify restored successfully',
    labelNames: ['asset'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [asset, s] of engine.newestSetPerAsset({ deepVerified: true }))
        this.set({ asset }, seconds(s.createdAt));
    },
  });
  new Gauge({
    name: 'drbot_rpo_seconds',
    help: 'The RPO of the asset (from its tier)',
    labelNames: ['asset', 'tier'],
    registers: [registry],
    async collect() {
      this.reset();
      const inventory = await engine.inventory().catch(() => undefined);
      for (const a of inventory?.assets ?? [])
        if (a.policy.rpoMs !== undefined)
          this.set({ asset: a.name, tier: a.policy.tier }, a.policy.rpoMs / 1000);
    },
  });
  new Gauge({
    name: 'drbot_rpo_breach',
    help: '1 while the asset is in breach (kind rpo: newest verified backup too old; schedule: a slot produced no backup)',
    labelNames: ['asset', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of engine.alerts()) this.set({ asset: a.asset, kind: a.kind }, a.open ? 1 : 0);
    },
  });
  new Gauge({
    name: 'drbot_runs_total',
    help: 'Runs recorded, by kind and final status',
    labelNames: ['kind', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { kind, status, n } of engine.runCounts()) this.set({ kind, status }, n);
    },
  });
  new Gauge({
    name: 'drbot_last_run_duration_seconds',
    help: 'Duration of the most recent finished run of each kind, by its outcome',
    labelNames: ['kind', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const kind of new Set(engine.runCounts().map((c) => c.kind))) {
        const r = engine.lastFinishedRun(kind);
        if (r?.startedAt && r.endedAt)
          this.set({ kind: r.kind, status: r.status }, (r.endedAt.getTime() - r.startedAt.getTime()) / 1000);
      }
    },
  });

  return {
    registry,
    handler: (_req, res) => {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`metrics failed: ${err.message}\n`);
        },
      );
    },
  };
}
