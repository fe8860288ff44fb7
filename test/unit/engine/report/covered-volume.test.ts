// A database's labelled data volume: covered by the dump in status, policy and backup selection.
import { describe, expect, it } from 'vitest';
import { policy as policyCommand } from '../../../../commands/policy.js';
import { status as statusCommand } from '../../../../commands/status.js';
import { loadInventory, selectAssets } from '../../../../src/engine/catalog/inventory.js';
import { Engine } from '../../../../src/engine/engine.js';
import { buildPolicy } from '../../../../src/engine/report/policy.js';
import { buildStatus } from '../../../../src/engine/report/status.js';
import { AppError } from '../../../../src/errors.js';
import { aContainer } from '../../../fixtures/builders.js';
import { reportDeps } from '../../../fixtures/report-deps.js';

const NOW = new Date('2026-03-10T12:00:00Z');

/** `orders-db` (MariaDB by labels) mounts `orders-data`, labelled tier=critical; `app-data` belongs to web. */
function depsWithDataVolume(extraLabels: Record<string, string> = {}) {
  const { deps } = reportDeps(
    {
      'orders-data': { tier: 'critical', backup: 'realtime', ...extraLabels },
      'app-data': { tier: 'critical' },
    },
    NOW,
  );
  const containers = [
    aContainer('orders-db', {
      labels: { 'dr.engine': 'mariadb', tier: 'important' },
      volumes: ['orders-data'],
    }),
    aContainer('web', { volumes: ['app-data'] }),
  ];
  deps.runtime.listContainers = async () => containers;
  return deps;
}

const ctxOf = (engine: Engine) =>
  ({
    args: {},
    engine,
    requester: 'U1',
    log: undefined,
    usage: '',
    helpFor: () => '',
    gate: () => undefined,
  }) as never;

describe('a database data volume with policy labels', () => {
  it('is shown as covered by the dump in status, with why, and not as never backed up', async () => {
    const deps = depsWithDataVolume();

    const report = await buildStatus(deps);
    const text = (await statusCommand.run(ctxOf(new Engine(deps)))).text;

    expect(Object.fromEntries(report.assets.map((a) => [a.asset.name, a.state]))).toEqual({
      'orders-db': 'never',
      'app-data': 'never',
      'orders-data': 'covered',
    });
    expect(text).toMatch(/orders-data\s+volume\s+critical\s+none\s+.*covered/);
    expect(text).toContain('orders-data → orders-db');
    expect(text).toContain('a tar of a running InnoDB or PostgreSQL data directory is not consistent');
    expect(text).not.toMatch(/orders-data \(critical\): /);
  });

  it('is not flagged by policy, which names the dump that covers it', async () => {
    const deps = depsWithDataVolume();

    const rows = await buildPolicy(deps);
    const text = (await policyCommand.run(ctxOf(new Engine(deps)))).text;

    const asset = rows.flatMap((r) => r.assets).find((a) => a.name === 'orders-data');
    expect(asset).toMatchObject({ coveredBy: 'orders-db', problem: undefined });
    expect(text).toMatch(/orders-data\s+critical\s+none\s+.*covered by the dump of orders-db/);
  });

  it('is left out of `backup all`, and a backup of it alone is refused, naming the dump and the label', async () => {
    const inventory = await loadInventory(depsWithDataVolume());

    const all = selectAssets(inventory, 'all').map((a) => a.name);
    const refusal = (() => {
      try {
        selectAssets(inventory, 'orders-data');
      } catch (err) {
        return err as AppError;
      }
      return undefined;
    })();

    expect(all).toEqual(['orders-db', 'app-data']);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal?.kind).toBe('user');
    expect(refusal?.message).toMatch(/data directory of database orders-db and is covered by its dump/);
    expect(refusal?.message).toMatch(/drbot\.archive=stopped/);
  });

  it('is backed up like any volume when labelled drbot.archive=stopped, and status says what it stops', async () => {
    const deps = depsWithDataVolume({ 'drbot.archive': 'stopped' });

    const inventory = await loadInventory(deps);
    const text = (await statusCommand.run(ctxOf(new Engine(deps)))).text;

    expect(selectAssets(inventory, 'all').map((a) => a.name)).toEqual([
      'orders-db',
      'app-data',
      'orders-data',
    ]);
    expect(text).toMatch(/orders-data\s+volume\s+critical\s+realtime\s+.*never/);
    expect(text).toContain('drbot.archive=stopped): orders-data (stops orders-db)');
  });
});
