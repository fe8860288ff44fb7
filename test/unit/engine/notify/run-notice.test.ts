// What a run started by a person tells webhooks: the event by kind and outcome, its run and assets.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Run } from '../../../../src/domain/runs.js';
import { runNotice } from '../../../../src/engine/notify/run-notice.js';
import type { Notice, Notifier } from '../../../../src/ports/notifier.js';
import { engineOnFakes, type FakeWorld } from '../../../fakes/engine-on-fakes.js';
import { type FakeSlack, startFakeSlack } from '../../../fakes/slack-api.js';
import { type SlackHarness, startSlackFront } from '../../../fixtures/slack-harness.js';

const run = (kind: Run['kind'], status: Run['status']) =>
  ({
    id: 'run-7',
    kind,
    status,
    target: 'all',
    requester: 'U1',
    createdAt: new Date(),
    startedAt: undefined,
    endedAt: undefined,
    error: undefined,
    result: { assets: ['main', 'uploads'] },
  }) as unknown as Run;

describe('runNotice', () => {
  it.each([
    ['backup', 'succeeded', 'backup-succeeded', 'info'],
    ['backup', 'failed', 'backup-failed', 'error'],
    ['backup', 'interrupted', 'backup-failed', 'error'],
    ['verify', 'failed', 'verify-failed', 'error'],
    ['test', 'succeeded', 'drill-succeeded', 'info'],
    ['test', 'failed', 'drill-failed', 'error'],
    ['restore', 'succeeded', 'restore', 'info'],
    ['restore', 'rejected', 'restore', 'warn'],
    ['undo', 'failed', 'restore', 'error'],
  ] as const)('%s %s → %s (%s)', (kind, status, event, level) => {
    const n = runNotice(run(kind, status as Run['status']), 'line 1\nline 2');
    expect(n).toMatchObject({
      event,
      level,
      runId: 'run-7',
      assets: ['main', 'uploads'],
      lines: ['line 1', 'line 2'],
    });
  });

  it.each([
    ['verify', 'succeeded'],
    ['backup', 'cancelled'],
  ] as const)('%s %s tells webhooks nothing', (kind, status) => {
    expect(runNotice(run(kind, status as Run['status']), '')).toBeUndefined();
  });
});

let world: FakeWorld | undefined;
let slack: SlackHarness | undefined;
let fake: FakeSlack | undefined;
afterEach(async () => {
  await slack?.front.stop();
  world?.close();
});
afterAll(async () => {
  await fake?.stop();
});

describe('runs started from Slack', () => {
  it('reach the webhooks with their outcome, even with Slack answering 500 to everything', async () => {
    fake = await startFakeSlack();
    world = engineOnFakes({ config: { slack: { approvers: ['U0APPROVER'], operators: ['U0OPERATOR'] } } });
    const heard: Notice[] = [];
    const webhooks: Notifier = {
      report: async (n) => {
        heard.push(n);
      },
      alert: async (n) => {
        heard.push(n);
      },
    };
    slack = await startSlackFront(world.engine, fake, {}, { webhooks });
    // Slack goes down once the app is up (Bolt learned who it is at its first request).
    expect((await slack.slash('help', 'U0OPERATOR')).status).toBe(200);
    fake.failAll({ status: 500 });

    const res = await slack.slash('backup all', 'U0OPERATOR');

    expect(res.status).toBe(200);
    const deadline = Date.now() + 10_000;
    while (!heard.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(heard).toEqual([
      expect.objectContaining({
        event: 'backup-succeeded',
        level: 'info',
        runId: expect.stringMatching(/^run-\d+$/),
      }),
    ]);
    expect(heard[0]?.assets).toEqual(expect.arrayContaining(['main', 'uploads']));
  });
});
