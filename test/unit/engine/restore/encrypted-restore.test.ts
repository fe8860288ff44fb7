// Restore, deep verify and Slack on the in-memory fakes with encryption: what needs the key, and that the key never shows.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { commandLineGate } from '../../../../src/engine/runs/approval.js';
import { ErrorCode } from '../../../../src/errors.js';
import { engineOnFakes, type FakeWorld, SHOP } from '../../../fakes/engine-on-fakes.js';
import { type FakeSlack, startFakeSlack } from '../../../fakes/slack-api.js';
import { type SlackHarness, startSlackFront } from '../../../fixtures/slack-harness.js';

const OPERATOR = 'U0OPERATOR';
let world: FakeWorld | undefined;
let slack: SlackHarness | undefined;
let fake: FakeSlack | undefined;

afterEach(async () => {
  await slack?.front.stop();
  slack = undefined;
  world?.close();
  world = undefined;
});

afterAll(async () => {
  await fake?.stop();
});

/** The shop backed up with encryption, the key in a file the config may or may not name. */
async function encryptedShop(options: { identityFile: boolean }) {
  const key = await generateIdentity();
  const keyFile = join(mkdtempSync(join(tmpdir(), 'drbot-key-')), 'recovery.key');
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const w = engineOnFakes({
    config: {
      encryption: {
        recipients: [await identityToRecipient(key)],
        tool: 'js',
        ...(options.identityFile ? { identityFile: keyFile } : {}),
      },
      slack: { approvers: ['U0APPROVER'], operators: [OPERATOR] },
    },
  });
  world = w;
  const backup = await w.engine.backup({ target: 'all', requester: 'alice' });
  expect(backup.status, backup.failures.join()).toBe('succeeded');
  expect(backup.artifacts.map((a) => a.file).sort()).toEqual(['main.sql.gz.age', 'uploads.tar.gz.age']);
  w.clock.advance(10 * 60_000);
  w.runtime.setDatabaseContent(SHOP.dbContainer, 'orders v2, damaged');
  w.runtime.ops.length = 0;
  return { w, key, backup };
}

const changes = (ops: string[]) =>
  ops.filter((o) => /^(start|stop|import|create-volume|remove-volume|run-once|create-container) /.test(o));

describe('encrypted sets on the fakes', () => {
  it('without the identity, restore fails in assess and touches nothing; deep verify is refused before a run', async () => {
    const { w } = await encryptedShop({ identityFile: false });
    const sets = w.store.listSets().length;

    const out = await w.engine.restore({
      scope: 'db-only',
      from: undefined,
      requester: 'alice',
      gate: commandLineGate(true, 'alice', () => w.clock.now()),
    });
    const deep = w.engine.verify({ set: 'latest', deep: true, requester: 'alice' });

    expect(out.status).toBe('failed');
    expect(out.failures.join()).toMatch(
      /restore needs the age identity .* DRBOT_AGE_IDENTITY_FILE .* encryption\.identityFile/,
    );
    expect(
      w.engine
        .run(out.run.id)
        .events.filter((e) => e.type === 'stage-start')
        .map((e) => e.stage),
    ).toEqual(['assess']);
    expect(changes(w.runtime.ops)).toEqual([]);
    expect(w.store.listSets().length).toBe(sets);
    await expect(deep).rejects.toMatchObject({ code: ErrorCode.IDENTITY_MISSING, kind: 'user' });
    expect(w.engine.runs(10).filter((r) => r.kind === 'verify')).toEqual([]);
    const plain = await w.engine.verify({ set: 'latest', deep: false, requester: 'alice' });
    expect(plain.status).toBe('succeeded');
  });

  it('with the identity, restore brings the database back and its safety snapshot is encrypted too', async () => {
    const { w, key } = await encryptedShop({ identityFile: true });

    const out = await w.engine.restore({
      scope: 'db-only',
      from: undefined,
      requester: 'alice',
      gate: commandLineGate(true, 'alice', () => w.clock.now()),
    });

    expect(out.status, out.failures.join()).toBe('succeeded');
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(SHOP.content);
    const safety = w.store.listSets({ purpose: 'safety' })[0];
    expect(safety?.artifacts.map((a) => a.file)).toEqual(['main.sql.gz.age']);
    const recorded = JSON.stringify([
      w.engine.run(out.run.id),
      w.logLines,
      [...w.local.objects.values()].map(String),
    ]);
    expect(recorded).not.toContain(key);
  });

  it('in Slack, a deep verify with the key loaded posts no trace of it', async () => {
    const { w, key } = await encryptedShop({ identityFile: true });
    fake ??= await startFakeSlack();
    const before = fake.calls.length;
    slack = await startSlackFront(w.engine, fake);

    const res = await slack.slash('verify latest --deep', OPERATOR);
    const done = async () => {
      for (let i = 0; i < 200; i++) {
        const run = w.engine.runs(5).find((r) => r.kind === 'verify');
        if (run && run.status !== 'running') return run;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('the deep verify did not end');
    };
    const run = await done();
    await new Promise((r) => setTimeout(r, 1500)); // the progress message's last update

    expect(res.status).toBe(200);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    const posted = JSON.stringify(fake.calls.slice(before));
    expect(posted).toMatch(/verify/);
    expect(posted).not.toContain(key);
    expect(posted).not.toContain(key.slice(16, 48));
  });
});
