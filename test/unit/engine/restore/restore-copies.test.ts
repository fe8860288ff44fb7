// Which copy a restore reads: another one when the first is bad, and only ever the very copy it verified.
import { afterEach, describe, expect, it } from 'vitest';
import type { RestoreScope } from '../../../../src/domain/restore-plan.js';
import { commandLineGate } from '../../../../src/engine/runs/approval.js';
import type { RunObserver } from '../../../../src/engine/runs/run-context.js';
import { engineOnFakes, type FakeWorld, SHOP } from '../../../fakes/engine-on-fakes.js';
import type { FakeTarget } from '../../../fakes/fake-target.js';

const DAMAGED = 'orders v2, mangled by a bad migration';

let world: FakeWorld | undefined;

afterEach(() => {
  expect(world?.runtime.unknown ?? []).toEqual([]);
  world?.close();
  world = undefined;
});

/** The shop backed up to local and S3, then damaged: the database and the uploads changed. */
async function damagedShop() {
  const w = engineOnFakes();
  world = w;
  const backup = await w.engine.backup({ target: 'all', requester: 'alice' });
  expect(backup.status).toBe('succeeded');
  w.clock.advance(10 * 60_000);
  w.runtime.setDatabaseContent(SHOP.dbContainer, DAMAGED);
  w.runtime.writeFile(SHOP.volume, 'a.txt', 'ALPHA overwritten');
  return { ...w, setId: backup.setId as string };
}

function restore(
  w: FakeWorld,
  scope: RestoreScope,
  extra: { from?: string; source?: string; observer?: RunObserver } = {},
) {
  w.runtime.ops.length = 0;
  return w.engine.restore({
    scope,
    requester: 'alice',
    gate: commandLineGate(true, 'alice', () => w.clock.now()),
    ...extra,
    from: extra.from,
  });
}

/** An observer that does `act` the moment `stage` has finished. */
function after(stage: string, act: () => void): RunObserver {
  return {
    onEvent: (_run, e) => {
      if (e.stage === stage && e.type === 'stage-end') act();
    },
  };
}

/** Does `act` once the verify stage has finished, before anything is loaded. */
const betweenVerifyAndLoad = (act: () => void) => after('verify', act);

const messages = (w: FakeWorld, runId: string) => w.engine.run(runId).events.map((e) => e.message);

function location(w: FakeWorld, setId: string, asset: string, target: string) {
  const artifact = w.engine.getSet(setId)?.artifacts.find((a) => a.asset === asset);
  return { artifact, location: artifact?.locations.find((l) => l.target === target) };
}

/** The load of a dump into the live database (the safety snapshot's dump is not a load). */
const loads = (w: FakeWorld) =>
  w.runtime.ops.filter((o) => o.startsWith('exec db mariadb --user=root --default-character-set'));

/** Puts other bytes under a key without it becoming a new version (a file rewritten in place). */
function rewriteInPlace(t: FakeTarget, file: string, body: Buffer): void {
  const key = [...t.objects.keys()].find((k) => k.endsWith(`/${file}`)) as string;
  t.objects.set(key, body);
}

describe('a restore falls back to another copy', () => {
  it('reads the dump from S3 when the local copy is corrupt, and marks the local copy failed', async () => {
    const w = await damagedShop();
    w.local.corrupt(`${w.setId}/main.sql.gz`);

    const out = await restore(w, 'db-only');

    expect(out.status).toBe('succeeded');
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(SHOP.content);
    expect(messages(w, out.run.id)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^main: the copy of main\.sql\.gz on local is bad: checksum mismatch: .*; marked failed in the catalog; trying s3$/,
        ),
        expect.stringMatching(
          /^main: sha256 [0-9a-f]{12}… \d+ bytes on s3 \(local: checksum mismatch: .* \(marked failed in the catalog\); read from s3\)$/,
        ),
      ]),
    );
    const { artifact, location: local } = location(w, w.setId, 'main', 'local');
    expect(local?.status).toBe('failed');
    expect(artifact?.verifyError).toMatch(/^local: checksum mismatch: /);
    expect(location(w, w.setId, 'main', 's3').location?.status).toBe('confirmed');
    expect(out.plan?.assets[0]?.readFrom).toBe('s3');
    expect(out.postmortem).toMatch(/\| main \| database \| set-\S+ \| .* \| s3 \|/);
    expect(out.postmortem).toMatch(/- main: local: checksum mismatch: .*; read from s3/);
  });

  it('plans the next restore from the good copy straight away', async () => {
    const w = await damagedShop();
    w.local.corrupt(`${w.setId}/main.sql.gz`);
    await restore(w, 'db-only');

    const again = await restore(w, 'db-only');

    expect(again.status).toBe('succeeded');
    expect(again.plan?.assets[0]).toMatchObject({
      readFrom: 's3',
      readReason: "local's copy failed verification; reading from s3",
    });
  });

  it('with --source, reads only that copy and stops at verify when it is bad', async () => {
    const w = await damagedShop();
    w.local.corrupt(`${w.setId}/main.sql.gz`);
    const readsBefore = w.s3.files('read').length;

    const out = await restore(w, 'db-only', { source: 'local' });

    expect(out.status).toBe('failed');
    expect(out.failures.join(' | ')).toMatch(
      /asset main, step verify: main\.sql\.gz of set-\S+ on local: checksum mismatch: .*; nothing live was touched$/,
    );
    expect(w.s3.files('read').length).toBe(readsBefore);
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(DAMAGED);
    expect(location(w, w.setId, 'main', 'local').location?.status).toBe('failed');
  });

  it('tries the next copy when one cannot be read, without marking it bad', async () => {
    const w = await damagedShop();
    const key = [...w.local.objects.keys()].find((k) => k.endsWith('/main.sql.gz')) as string;
    // Gone after the plan was made (it listed the file), before the verify stage reads it.
    const observer = after('assemble', () => w.local.objects.delete(key));

    const out = await restore(w, 'db-only', { observer });

    expect(out.status).toBe('succeeded');
    expect(messages(w, out.run.id)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^main: the copy of main\.sql\.gz on local cannot be read: /),
      ]),
    );
    expect(location(w, w.setId, 'main', 'local').location?.status).toBe('confirmed');
  });
});

describe('a restore loads the bytes it verified', () => {
  it('refuses a dump replaced between verify and load, loading nothing', async () => {
    const w = await damagedShop();
    const observer = betweenVerifyAndLoad(() => w.local.corrupt(`${w.setId}/main.sql.gz`));

    const out = await restore(w, 'db-only', { observer });

    expect(out.status).toBe('failed');
    expect(out.failures.join(' | ')).toMatch(
      /asset main, step restore: main\.sql\.gz on local changed after it was verified, so nothing of it was loaded: /,
    );
    expect(loads(w)).toEqual([]);
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(DAMAGED);
  });

  it('refuses a volume archive replaced between verify and load, leaving the live volume alone', async () => {
    const w = await damagedShop();
    const observer = betweenVerifyAndLoad(() => w.local.corrupt(`${w.setId}/uploads.tar.gz`));

    const out = await restore(w, 'asset:uploads', { observer });

    expect(out.status).toBe('failed');
    expect(out.failures.join(' | ')).toMatch(/uploads\.tar\.gz on local changed after it was verified/);
    expect(w.runtime.ops).not.toContain(`import ${SHOP.volume}`);
    expect(w.runtime.volumeFiles(SHOP.volume)['a.txt']).toBe('ALPHA overwritten');
    expect(w.runtime.leftovers()).toEqual([]);
  });

  it('refuses an archive rewritten in place (same version) before anything is copied to the live volume', async () => {
    const w = await damagedShop();
    const later = await w.engine.backup({ target: SHOP.volume, requester: 'alice' });
    const otherTar = w.local.object(`${later.setId}/uploads.tar.gz`) as Buffer;
    const observer = betweenVerifyAndLoad(() =>
      rewriteInPlace(w.local, `${w.setId}/uploads.tar.gz`, otherTar),
    );

    const out = await restore(w, 'asset:uploads', { from: w.setId, observer });

    expect(out.status).toBe('failed');
    expect(out.failures.join(' | ')).toMatch(
      /asset uploads, step restore: the bytes of uploads\.tar\.gz read from local are not the ones verified: \d+ bytes sha256 [0-9a-f]{64}, verified \d+ bytes sha256 [0-9a-f]{64}; the live volume was not touched/,
    );
    expect(w.runtime.ops).not.toContain(`import ${SHOP.volume}`);
    expect(w.runtime.volumeFiles(SHOP.volume)['a.txt']).toBe('ALPHA overwritten');
  });

  it('fails loudly, naming the safety snapshot and undo, when a dump turns out different after its load', async () => {
    const w = await damagedShop();
    const later = await w.engine.backup({ target: SHOP.database, requester: 'alice' });
    const otherDump = w.local.object(`${later.setId}/main.sql.gz`) as Buffer;
    const observer = betweenVerifyAndLoad(() => rewriteInPlace(w.local, `${w.setId}/main.sql.gz`, otherDump));

    const out = await restore(w, 'db-only', { from: w.setId, observer });

    expect(out.status).toBe('failed');
    expect(out.safetySetId).toMatch(/^set-/);
    expect(out.failures.join(' | ')).toMatch(
      new RegExp(
        `asset main, step restore: the bytes of main\\.sql\\.gz read from local are not the ones verified: .*; db now holds what was loaded from them: undo ${out.run.id} puts back its state from before the restore \\(safety snapshot ${out.safetySetId}\\)`,
      ),
    );
    expect(w.engine.run(out.run.id).run.status).toBe('failed');
  });
});

describe('verify runs keep the catalog of copies current', () => {
  it('mark a corrupt copy failed, and confirm it again once it is repaired', async () => {
    const w = await damagedShop();
    const key = [...w.local.objects.keys()].find((k) => k.endsWith(`${w.setId}/main.sql.gz`)) as string;
    const good = w.local.objects.get(key) as Buffer;
    w.local.corrupt(key);

    const bad = await w.engine.verify({ set: w.setId, deep: false, requester: 'alice' });
    const failed = location(w, w.setId, 'main', 'local').location?.status;
    rewriteInPlace(w.local, `${w.setId}/main.sql.gz`, good);
    const repaired = await w.engine.verify({ set: w.setId, deep: false, requester: 'alice' });

    expect(bad.status).toBe('failed');
    expect(failed).toBe('failed');
    expect(repaired.status).toBe('succeeded');
    expect(location(w, w.setId, 'main', 'local').location?.status).toBe('confirmed');
  });
});
