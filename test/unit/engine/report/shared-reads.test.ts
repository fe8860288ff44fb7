// Status for many at once: one computation while nothing changed, Docker listings kept briefly, fresh answers after a change.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engineOnFakes, type FakeWorld } from '../../../fakes/engine-on-fakes.js';
import { type FakeSlack, startFakeSlack } from '../../../fakes/slack-api.js';
import { type SlackHarness, startSlackFront } from '../../../fixtures/slack-harness.js';

let world: FakeWorld | undefined;
let slack: SlackHarness | undefined;
let fake: FakeSlack | undefined;

afterEach(async () => {
  await slack?.front.stop();
  world?.close();
  slack = undefined;
  world = undefined;
});
afterAll(async () => {
  await fake?.stop();
});

/**
 * Counts Docker volume listings; the first `held` of them wait until released, and each takes
 * `ms` (Docker answers over a socket, not at once).
 */
function countListings(w: FakeWorld, held = 0, ms = 0) {
  const original = w.runtime.listVolumes.bind(w.runtime);
  const state: { calls: number; release: () => void } = { calls: 0, release: () => {} };
  const gate = new Promise<void>((resolve) => {
    state.release = resolve;
  });
  w.runtime.listVolumes = async () => {
    state.calls++;
    if (state.calls <= held) await gate;
    if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
    return original();
  };
  return state;
}

describe('status shared by requests at the same moment', () => {
  it('computes once for fifty requests that arrive together, and all get the answer', async () => {
    world = engineOnFakes();
    await world.engine.backup({ target: 'all', requester: 'alice' });
    const listings = countListings(world);

    const answers = await Promise.all(Array.from({ length: 50 }, () => world?.engine.status()));

    expect(listings.calls).toBe(1);
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]?.assets.find((a) => a.asset.name === 'main')?.newest).toBeDefined();
  });

  it('a backup that completes while a status is being computed shows in the next request', async () => {
    world = engineOnFakes();
    const listings = countListings(world, 1);
    const before = world.engine.status(); // waits on its Docker listing

    const backup = await world.engine.backup({ target: 'all', requester: 'alice' });
    const after = world.engine.status();
    listings.release();

    // Asked after the backup was recorded: its own computation, not the one already under way.
    expect(after).not.toBe(before);
    const fresh = await after;
    await before;
    expect(backup.status).toBe('succeeded');
    expect(fresh.assets.find((a) => a.asset.name === 'main')?.newest?.setId).toBe(backup.setId);
  });

  it('shares a Docker listing only while it is in flight: a new volume is in the next answer', async () => {
    world = engineOnFakes();
    const listings = countListings(world);
    const names = async () => (await (world as FakeWorld).engine.status()).assets.map((a) => a.asset.name);

    expect(await names()).not.toContain('reports');
    world.runtime.addVolume('reports', { labels: { tier: 'important' }, files: { 'r.csv': '1,2' } });
    expect(await names()).toContain('reports');
    expect(listings.calls).toBe(2);
  });

  it('status, policy and the inventory asked together list Docker once', async () => {
    world = engineOnFakes();
    const listings = countListings(world);

    await Promise.all([world.engine.status(), world.engine.policy(), world.engine.inventory()]);

    expect(listings.calls).toBe(1);
  });
});

describe('the Slack app under fifty concurrent /dr status', () => {
  it('acknowledges every request and answers every one, computing status fewer times than asked', async () => {
    fake ??= await startFakeSlack();
    world = engineOnFakes({ config: { slack: { approvers: ['U0APPROVER'] } } });
    await world.engine.backup({ target: 'all', requester: 'alice' });
    const listings = countListings(world, 0, 30);
    slack = await startSlackFront(world.engine, fake);
    const harness = slack;

    const acks = await Promise.all(
      Array.from({ length: 50 }, (_, i) => harness.slash('status', `U0USER${i}`)),
    );

    expect(acks.map((a) => a.status)).toEqual(Array(50).fill(200));
    const replies = await Promise.all(
      acks.map((a) => (fake as FakeSlack).waitForResponse((r) => r.id === a.responseId, 10_000)),
    );
    for (const r of replies) expect(String(r.body.text)).toContain('main');
    expect(listings.calls).toBeGreaterThan(0);
    expect(listings.calls).toBeLessThan(50);
  });
});
