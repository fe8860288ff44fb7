import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildNotifications } from '../../../src/adapters/webhook/notifications.js';
import { createLogger } from '../../../src/log.js';
import type { Notifier } from '../../../src/ports/notifier.js';
import { Scheduler } from '../../../src/scheduler/scheduler.js';
import { engineOnFakes, type FakeWorld } from '../../fakes/engine-on-fakes.js';
import { type HttpReceiver, startReceiver } from '../../fixtures/http-receiver.js';

const SECRET = 'whsec-sched-unit-71';
const GROUP = '0 2 * * *'; // the important tier's schedule: the shop's `uploads` volume
let hooks: HttpReceiver;
let pings: HttpReceiver;
let world: FakeWorld;

/** A notifier that fails every way it can: throws before returning, or rejects. */
const broken: Notifier = {
  report: () => {
    throw new Error('slack is down (sync)');
  },
  alert: async () => {
    throw new Error('slack is down (500)');
  },
};

function scheduler(options: { primary?: Notifier } = {}): Scheduler {
  const { engine, clock, config, logLines } = world;
  const log = createLogger({
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  });
  const n = buildNotifications(
    config,
    { HOOK_SECRET: SECRET },
    { clock, log, inventory: () => engine.inventory() },
  );
  return new Scheduler(engine, n.notifier(options.primary ?? broken), log, n.pings);
}

function arrange(notifications: Record<string, unknown>): void {
  world = engineOnFakes({ config: { notifications, verify: { afterBackup: false } } });
}

beforeEach(async () => {
  hooks = await startReceiver();
  pings = await startReceiver();
});
afterEach(async () => {
  world?.close();
  await hooks.close();
  await pings.close();
});

describe('a scheduled backup with notifiers that fail', () => {
  it('succeeds and is recorded as succeeded when Slack throws, the webhook is gone and the ping answers 500', async () => {
    const deadHook = hooks.origin;
    await hooks.close();
    arrange({
      webhooks: [{ url: `${deadHook}/hook`, secretEnv: 'HOOK_SECRET' }],
      pings: [{ tier: 'important', url: `${pings.origin}/ping/u1` }],
    });
    pings.answer(...Array(20).fill(500));
    hooks = await startReceiver();

    const outcome = await scheduler().runGroup(GROUP, ['uploads'], 'schedule');

    expect(outcome?.status).toBe('succeeded');
    expect(world.engine.findRun(outcome?.run.id as string)?.status).toBe('succeeded');
    // Every ping was tried its 4 attempts (backoff on the fake clock), then given up.
    expect(pings.requests.map((r) => r.path)).toEqual([
      ...Array(4).fill('/ping/u1/start'),
      ...Array(4).fill('/ping/u1'),
    ]);
    const log = world.logLines.join('');
    expect(log).toMatch(/"msg":"notifier failed"/);
    expect(log).toMatch(/slack is down/);
    expect(log).toMatch(/"err":"ECONNREFUSED","msg":"webhook not delivered"/);
    expect(log).toMatch(/"signal":"success","attempts":4,"err":"HTTP 500","msg":"ping not delivered"/);
    expect(log).not.toContain('/ping/u1');
    expect(log).not.toContain(SECRET);
  });

  it('a failed backup still reaches the webhook, signed, and pings /start then /fail with the cause', async () => {
    arrange({
      webhooks: [{ url: `${hooks.origin}/hook`, secretEnv: 'HOOK_SECRET', events: ['backup-failed'] }],
      pings: [{ schedule: GROUP, url: `${pings.origin}/p` }],
    });
    world.s3.unreachableBecause('s3: connection refused');

    const outcome = await scheduler().runGroup(GROUP, ['uploads'], 'schedule');

    expect(outcome?.status).toBe('failed');
    expect(pings.requests.map((r) => r.path)).toEqual(['/p/start', '/p/fail']);
    expect(pings.requests[1]?.body).toMatch(/s3: connection refused/);
    expect(hooks.requests).toHaveLength(1);
    const req = hooks.requests[0] as (typeof hooks.requests)[number];
    const mac = createHmac('sha256', SECRET)
      .update(`${req.headers['x-drbot-timestamp']}.${req.body}`)
      .digest('hex');
    expect(req.headers['x-drbot-signature']).toBe(`sha256=${mac}`);
    expect(JSON.parse(req.body)).toMatchObject({
      event: 'backup-failed',
      kind: 'alert',
      level: 'error',
      runId: outcome?.run.id,
      assets: ['uploads'],
    });
  });

  it('a good backup pings /start then success and sends backup-succeeded; a tier that does not match pings nothing', async () => {
    arrange({
      webhooks: [{ url: `${hooks.origin}/hook` }],
      pings: [
        { tier: 'important', url: `${pings.origin}/important` },
        { tier: 'critical', url: `${pings.origin}/critical` },
      ],
    });

    const outcome = await scheduler({ primary: { report: async () => {}, alert: async () => {} } }).runGroup(
      GROUP,
      ['uploads'],
      'schedule',
    );

    expect(outcome?.status).toBe('succeeded');
    expect(pings.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /important/start',
      'POST /important',
    ]);
    expect(hooks.requests.map((r) => JSON.parse(r.body))).toEqual([
      expect.objectContaining({
        event: 'backup-succeeded',
        kind: 'report',
        runId: outcome?.run.id,
        assets: ['uploads'],
      }),
    ]);
  });

  it('a backup that cannot start pings /fail without /start; one skipped because the asset is busy pings nothing', async () => {
    arrange({ pings: [{ schedule: GROUP, url: `${pings.origin}/p` }] });

    const refused = await scheduler().runGroup(GROUP, ['no-such-asset'], 'schedule');

    expect(refused).toBeUndefined();
    expect(pings.requests.map((r) => r.path)).toEqual(['/p/fail']);
    expect(pings.requests[0]?.body).toMatch(/no-such-asset/);

    pings.requests.length = 0;
    const [a, b] = await Promise.all([
      scheduler().runGroup(GROUP, ['uploads'], 'schedule'),
      scheduler().runGroup(GROUP, ['uploads'], 'schedule'),
    ]);

    // One ran, the other found the asset held by it: one /start and one success, nothing else.
    expect([a, b].filter((o) => o !== undefined)).toHaveLength(1);
    expect(pings.requests.map((r) => r.path)).toEqual(['/p/start', '/p']);
  });
});
