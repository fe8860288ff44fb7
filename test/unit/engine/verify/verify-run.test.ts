// Verify runs on the in-memory fakes: every copy re-read, a bad one named, and deep verify in scratch that is removed.
import { afterEach, describe, expect, it } from 'vitest';
import { engineOnFakes, type FakeWorld, SHOP } from '../../../fakes/engine-on-fakes.js';

let world: FakeWorld | undefined;

/** The shop with one complete backup, the targets' record of it cleared. */
async function backedUpShop(
  options: Parameters<typeof engineOnFakes>[0] = {},
): Promise<FakeWorld & { setId: string }> {
  const w = engineOnFakes(options);
  world = w;
  const backup = await w.engine.backup({ target: 'all', requester: 'alice' });
  expect(backup.status).toBe('succeeded');
  for (const t of [w.local, w.s3]) t.ops.length = 0;
  w.runtime.ops.length = 0;
  return { ...w, setId: backup.setId };
}

afterEach(() => {
  // A command the fakes do not know means the engine changed what it sends: look at it.
  expect(world?.runtime.unknown ?? []).toEqual([]);
  world?.close();
  world = undefined;
});

describe('engine.verify on fakes', () => {
  it('re-reads every artifact from every target and fails naming the target whose copy is corrupt', async () => {
    const w = await backedUpShop();
    w.s3.corrupt(`${w.setId}/uploads.tar.gz`);

    const out = await w.engine.verify({ set: 'latest', deep: false, requester: 'alice' });

    expect(out.status).toBe('failed');
    for (const t of [w.local, w.s3])
      expect(t.files('read').sort()).toEqual(['main.sql.gz', 'uploads.tar.gz']);
    expect(out.checks.map((c) => `${c.asset}@${c.target}:${c.ok}`).sort()).toEqual([
      'main@local:true',
      'main@s3:true',
      'uploads@local:true',
      'uploads@s3:false',
    ]);
    expect(out.failures).toHaveLength(1);
    expect(out.failures[0]).toMatch(/^uploads \(uploads\.tar\.gz\) on s3: checksum mismatch: /);
    expect(w.engine.run(out.run.id).run.status).toBe('failed');
    const uploads = w.engine.getSet(w.setId)?.artifacts.find((a) => a.asset === 'uploads');
    expect(uploads?.verifyError).toMatch(/^s3: checksum mismatch/);
  });

  it('--deep loads the dump into a scratch database from the same image and extracts the tar into a scratch volume, then removes both', async () => {
    const w = await backedUpShop();
    // A fresh server takes a few polls to come up; the fake clock makes them instant.
    w.runtime.addImage('mariadb:11.4', { engine: 'mariadb', readyAfterPings: 3 });

    const out = await w.engine.verify({ set: 'latest', deep: true, requester: 'alice' });

    expect(out.status).toBe('succeeded');
    expect(out.deep.map((d) => [d.asset, d.ok])).toEqual([
      ['main', true],
      ['uploads', true],
    ]);
    expect(out.deep[0]?.detail).toMatch(
      /into scratch mariadb .*1 database\(s\), 1 table\(s\) with data, 1 rows/,
    );
    expect(out.deep[1]?.detail).toMatch(/into a scratch volume: 2 file\(s\), 9 bytes, every hash equal/);
    const scratch = w.runtime.removed.find((c) => c.labels['drbot.scratch'] === out.run.id);
    expect(scratch?.image).toBe('mariadb:11.4');
    expect(scratch?.db?.data.get('app')?.get('content')).toEqual([SHOP.content]);
    expect(w.clock.sleeps).toEqual([500, 500, 500]);
    expect(w.runtime.ops.filter((o) => /^(create-volume|remove-volume) /.test(o))).toEqual([
      expect.stringMatching(/^create-volume drbot-verify-/),
      expect.stringMatching(/^remove-volume drbot-verify-/),
    ]);
    expect(w.runtime.leftovers()).toEqual([]);
    expect(w.runtime.ops.filter((o) => o.startsWith(`exec ${SHOP.dbContainer} `))).toEqual([]);
    expect(w.engine.getSet(w.setId)?.artifacts.every((a) => a.deepVerifiedAt !== undefined)).toBe(true);
  });

  it('--deep fails the database check when its scratch will not start, and still removes the scratch', async () => {
    const w = await backedUpShop();
    w.runtime.failStart(/^drbot-verify-/, 'driver failed programming external connectivity');

    const out = await w.engine.verify({ set: 'latest', deep: true, requester: 'alice' });

    expect(out.status).toBe('failed');
    expect(out.deep.map((d) => [d.asset, d.ok])).toEqual([
      ['main', false],
      ['uploads', true],
    ]);
    expect(out.failures).toEqual([
      expect.stringMatching(
        /^main: .*start scratch container drbot-verify-\S+ failed: driver failed programming/,
      ),
    ]);
    expect(w.runtime.leftovers()).toEqual([]);
    expect(w.runtime.removed.map((c) => c.name)).toEqual([
      expect.stringMatching(/^drbot-verify-run-\d+-main-/),
    ]);
  });

  it('--deep checks a PostgreSQL dump the same way: pg_dumpall in, psql into a scratch postgres, rows counted', async () => {
    const w = await backedUpShop({
      arrange: (rt) => rt.addDatabase({ name: 'pg', engine: 'postgres', content: 'ledger v1' }),
      config: { databases: [{ name: 'ledger', container: 'pg', engine: 'postgres', tier: 'critical' }] },
    });

    const out = await w.engine.verify({ set: 'latest', deep: true, requester: 'alice' });

    expect(out.status).toBe('succeeded');
    const ledger = out.deep.find((d) => d.asset === 'ledger');
    expect(ledger?.detail).toMatch(/into scratch postgres .*1 database\(s\), 1 table\(s\) with data, 1 rows/);
    const scratch = w.runtime.removed.find((c) => c.image === 'postgres:16');
    expect(scratch?.db?.data.get('app')?.get('public.content')).toEqual(['ledger v1']);
    expect(w.engine.getSet(w.setId)?.artifacts.find((a) => a.asset === 'ledger')?.engineVersion).toBe(
      'postgres 16.4',
    );
  });
});
