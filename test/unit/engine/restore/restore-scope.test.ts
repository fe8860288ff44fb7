// Which assets a restore scope covers: a database's data volume comes back from the dump, not from a tar.
import { describe, expect, it } from 'vitest';
import { buildInventory } from '../../../../src/domain/inventory.js';
import { scopeAssets } from '../../../../src/engine/restore/restore-plan.js';
import type { ArtifactRecord, SetRecord } from '../../../../src/ports/state-store.js';
import { aContainer, aVolume, defaultTiers } from '../../../fixtures/builders.js';

const inventory = buildInventory({
  volumes: [
    aVolume('orders-data', { tier: 'critical', 'drbot.archive': 'stopped' }),
    aVolume('app-data', { tier: 'critical' }),
  ],
  containers: [
    aContainer('orders-db', {
      labels: { 'dr.engine': 'mariadb', tier: 'important' },
      volumes: ['orders-data'],
    }),
    aContainer('web', { volumes: ['app-data'] }),
  ],
  databases: [],
  tiers: defaultTiers(),
});

const artifact = (asset: string, kind: ArtifactRecord['kind'], meta: ArtifactRecord['meta'] = {}) =>
  ({ asset, kind, status: 'complete', meta }) as ArtifactRecord;

/** One set with the database, both volumes, and a gone database's data volume archived before. */
const sets = [
  {
    id: 'set-1',
    artifacts: [
      artifact('orders-db', 'mysql-dump'),
      artifact('orders-data', 'volume-tar', { dataOf: 'orders-db' }),
      artifact('app-data', 'volume-tar'),
      artifact('old-db-data', 'volume-tar', { dataOf: 'old-db' }),
      artifact('lost-uploads', 'volume-tar'),
    ],
  } as SetRecord,
];

describe('scopeAssets', () => {
  it('restores a database from its dump in `full`, leaving its data volume archive out, live or gone', () => {
    const names = scopeAssets('full', inventory, sets, new Set(['orders-data', 'app-data'])).map(
      (c) => c.name,
    );

    expect(names).toEqual(['orders-db', 'app-data', 'lost-uploads']);
  });

  it('still restores the data volume archive when it is asked for by name', () => {
    const [only] = scopeAssets('asset:orders-data', inventory, sets, new Set(['orders-data']));

    expect(only).toMatchObject({ name: 'orders-data', kind: 'volume' });
  });
});
