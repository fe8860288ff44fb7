import { describe, expect, it } from 'vitest';
import { Engine } from '../../../../src/engine/engine.js';
import { buildStatus } from '../../../../src/engine/report/status.js';
import type { Notice } from '../../../../src/ports/notifier.js';
import { RpoMonitor } from '../../../../src/scheduler/rpo-monitor.js';
import { MINUTE, recordSet, reportDeps } from '../../../fixtures/report-deps.js';

const NOW = new Date('2026-03-10T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

/** Three critical volumes (RPO 15m) at NOW, each with its own history of sets. */
function threeVolumes() {
  const { deps, store } = reportDeps(
    {
      fresh: { tier: 'critical' },
      pending: { tier: 'critical' },
      stale: { tier: 'critical' },
    },
    NOW,
  );
  // fresh: its newest set is verified and 3 minutes old.
  recordSet(store, 'set-fresh-1', 'fresh', ago(3 * MINUTE), { deepVerified: true });
  // pending: a verified set 10 minutes old, and a newer one not verified yet.
  recordSet(store, 'set-pending-1', 'pending', ago(10 * MINUTE), { deepVerified: true });
  recordSet(store, 'set-pending-2', 'pending', ago(2 * MINUTE), { deepVerified: false });
  // stale: a new set uploaded 5 minutes ago, but the newest verified one is 20 minutes old.
  recordSet(store, 'set-stale-1', 'stale', ago(20 * MINUTE), { deepVerified: true });
  recordSet(store, 'set-stale-2', 'stale', ago(5 * MINUTE), { deepVerified: false });
  return deps;
}

describe('buildStatus', () => {
  it('judges the RPO by the newest verified set, and says when the newest set is not verified yet', async () => {
    const deps = threeVolumes();

    const status = await buildStatus(deps);

    const states = Object.fromEntries(status.assets.map((a) => [a.asset.name, a.state]));
    expect(states).toEqual({ fresh: 'ok', pending: 'unverified', stale: 'breach' });
  });

  it('shows BREACH for exactly the assets the RPO monitor alerts on', async () => {
    const deps = threeVolumes();
    const alerts: Notice[] = [];
    const monitor = new RpoMonitor(new Engine(deps), {
      report: async () => undefined,
      alert: async (n) => {
        alerts.push(n);
      },
    });

    const breaches = await monitor.check(NOW);
    const status = await buildStatus(deps);

    const alerted = breaches.filter((b) => b.kind === 'rpo').map((b) => b.asset);
    const shown = status.assets.filter((a) => a.state === 'breach').map((a) => a.asset.name);
    expect(alerted).toEqual(['stale']);
    expect(shown).toEqual(alerted);
    expect(alerts.map((n) => n.title)).toContain(':rotating_light: RPO breach: stale');
  });
});
