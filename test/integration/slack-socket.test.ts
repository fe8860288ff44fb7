import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REJECT_ACTION } from '../../src/front/slack/approvals.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-api.js';
import { blockActionsPayload, slashCommandPayload } from '../fakes/slack-signing.js';
import { docker, removeByLabel } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { type SlackHarness, startSlackFront } from '../fixtures/slack-harness.js';

const LABEL = 'drbot.fixture=socket';
let fake: FakeSlack;
let h: EngineHarness;
let slack: SlackHarness;

beforeAll(async () => {
  removeByLabel(LABEL);
  docker(['volume', 'create', '--label', LABEL, '--label', 'tier=critical', 'sock-vol']);
  docker(['run', '--rm', '-v', 'sock-vol:/v', BUSYBOX_IMAGE, 'sh', '-c', 'echo data > /v/file']);
  fake = await startFakeSlack({ socketMode: true });
  h = engineHarness({
    config: { slack: { approvers: ['U0APPROVER'], operators: ['U0OPERATOR'], approvalTimeout: '1m' } },
  });
  expect((await h.app.engine.backup({ target: 'sock-vol', requester: 'setup' })).status).toBe('succeeded');
  slack = await startSlackFront(h.app.engine, fake, { SLACK_APP_TOKEN: 'xapp-1-test-app-token' });
  await fake.waitForSocket(10_000);
});

afterAll(async () => {
  await slack?.front.stop();
  await fake?.stop();
  h?.app.close();
  removeByLabel(LABEL);
});

describe('Socket Mode', () => {
  it('connects through apps.connections.open and answers /dr status', async () => {
    const envelope = fake.socketSend({
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: slashCommandPayload({
        text: 'status',
        user_id: 'U0OPERATOR',
        channel_id: 'C0OPS',
        response_url: fake.responseUrl('sock-status'),
      }),
    });

    await fake.waitForAck(envelope, 3000);
    const reply = await fake.waitForResponse((r) => r.id === 'sock-status', 10_000);

    expect(fake.callsTo('apps.connections.open')[0]?.token).toBe('xapp-1-test-app-token');
    expect(JSON.stringify(reply.body.blocks)).toMatch(/drbot status at .*sock-vol/);
  });

  it('takes an approval click over the socket', async () => {
    const mark = fake.calls.length;
    fake.socketSend({
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: slashCommandPayload({
        text: 'restore sock-vol',
        user_id: 'U0OPERATOR',
        channel_id: 'C0OPS',
        response_url: fake.responseUrl('sock-restore'),
      }),
    });
    const card = await fake.waitFor(
      (c) =>
        fake.calls.indexOf(c) >= mark &&
        c.method === 'chat.postMessage' &&
        JSON.stringify(c.body.blocks).includes('Approval needed'),
      15_000,
    );
    const value = (card.body.blocks as Array<{ type: string; elements?: Array<{ value: string }> }>).find(
      (b) => b.type === 'actions',
    )?.elements?.[0]?.value as string;

    const click = fake.socketSend({
      type: 'interactive',
      accepts_response_payload: false,
      payload: blockActionsPayload({
        user_id: 'U0APPROVER',
        channel_id: 'C0OPS',
        message_ts: card.response.ts as string,
        action_id: REJECT_ACTION,
        value,
        response_url: fake.responseUrl('sock-click'),
      }),
    });
    await fake.waitForAck(click, 3000);
    await fake.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        c.body.ts === card.response.ts &&
        JSON.stringify(c.body.blocks).includes('Rejected by <@U0APPROVER>'),
      10_000,
    );

    expect(h.app.engine.runs(5).find((r) => r.kind === 'restore')?.status).toBe('rejected');
  });
});
