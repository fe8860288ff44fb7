// Retention on a target with Object Lock: a locked artifact is kept, with when it becomes deletable.
import { describe, expect, it } from 'vitest';
import { artifactKey, setDirectory } from '../../../../src/domain/layout.js';
import { pruneExpired } from '../../../../src/engine/catalog/prune.js';
import type { BackupTarget } from '../../../../src/ports/backup-target.js';
import { recordSet, reportDeps } from '../../../fixtures/report-deps.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date('2026-03-10T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

/** A bucket in memory whose objects may be locked until a date; deletes of locked keys are recorded too. */
function lockingTarget(keys: string[], locks: Record<string, Date>) {
  const stored = new Set(keys);
  const deleted: string[] = [];
  const target = {
    name: 's3',
    location: 's3://b/drbot',
    async list(prefix: string) {
      return [...stored].filter((k) => k.startsWith(prefix)).sort();
    },
    async delete(key: string) {
      deleted.push(key);
      stored.delete(key);
    },
    async put(key: string) {
      stored.add(key);
    },
    async lockedUntil(key: string) {
      return locks[key];
    },
  } as unknown as BackupTarget;
  return { target, deleted };
}

describe('pruneExpired with Object Lock', () => {
  it('deletes nothing of a locked artifact, reports until when it is locked, and prunes the unlocked one', async () => {
    const { deps, store } = reportDeps({ 'app-data': { tier: 'important', retention: '7days' } }, NOW);
    const sets = { 'set-old': ago(30 * DAY), 'set-mid': ago(20 * DAY), 'set-new': ago(DAY) };
    for (const [id, at] of Object.entries(sets))
      recordSet(store, id, 'app-data', at, { deepVerified: false });
    const keyOf = (id: keyof typeof sets) => artifactKey(id, sets[id], 'app-data.tar.gz');
    const until = new Date('2026-04-01T00:00:00Z');
    const { target, deleted } = lockingTarget(
      (Object.keys(sets) as Array<keyof typeof sets>).flatMap((id) => [
        keyOf(id),
        `${setDirectory(id, sets[id])}/manifest.json`,
      ]),
      { [keyOf('set-mid')]: until, [keyOf('set-old')]: ago(DAY) }, // set-old's lock has ended
    );
    const lines: string[] = [];
    const ctx = {
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };

    const report = await pruneExpired({ ...deps, targets: [target] }, ctx as never);

    expect(report.deleted).toEqual([{ setId: 'set-old', asset: 'app-data' }]);
    expect(report.locked).toEqual([
      `set-mid/app-data.tar.gz: locked on s3 until 2026-04-01T00:00:00.000Z; deletable from 2026-04-01T00:00:00.000Z`,
    ]);
    expect(deleted).not.toContain(keyOf('set-mid'));
    expect(deleted).toContain(keyOf('set-old'));
    expect(store.getSet('set-mid')?.status).toBe('complete');
    expect(lines).toContain(
      'kept set-mid/app-data.tar.gz: locked on s3 until 2026-04-01T00:00:00.000Z; deletable from 2026-04-01T00:00:00.000Z',
    );
  });
});
