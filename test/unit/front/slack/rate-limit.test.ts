// Slack commands that start runs are limited per person (slack.rateLimit); other commands are not.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RunRateLimit } from '../../../../src/front/slack/rate-limit.js';
import { type FakeSlack, startFakeSlack } from '../../../fakes/slack-api.js';
import { type EngineHarness, engineHarness } from '../../../fixtures/engine.js';
import { type SlackHarness, startSlackFront } from '../../../fixtures/slack-harness.js';

const OPERATOR = 'U0OPERATOR';
const OTHER = 'U0OTHER';

let fake: FakeSlack | undefined;
let h: EngineHarness | undefined;
let slack: SlackHarness | undefined;

afterEach(async () => {
  await slack?.front.stop();
  h?.app.close();
  slack = undefined;
  h = undefined;
});

afterAll(async () => {
  await fake?.stop();
});

/** `/dr <text>` from `user`, and the text of the ephemeral answer. */
async function ask(text: string, user: string): Promise<string> {
  const res = await (slack as SlackHarness).slash(text, user);
  expect(res.status).toBe(200);
  const reply = await (fake as FakeSlack).waitForResponse((r) => r.id === res.responseId, 5000);
  return String(reply.body.text);
}

describe('RunRateLimit', () => {
  it('allows max runs within any window, says when the next one may start, and forgets old ones', () => {
    let now = 0;
    const limit = new RunRateLimit(2, 60_000, () => now);

    const first = limit.take('U1');
    now = 10_000;
    const second = limit.take('U1');
    now = 20_000;
    const third = limit.take('U1');
    const someoneElse = limit.take('U2');
    now = 60_000;
    const afterFirstExpired = limit.take('U1');

    expect([first, second, someoneElse, afterFirstExpired]).toEqual([
      { ok: true },
      { ok: true },
      { ok: true },
      { ok: true },
    ]);
    expect(third).toEqual({ ok: false, retryInMs: 40_000 });
  });
});

describe('/dr with slack.rateLimit', () => {
  it('refuses a person a run beyond the limit with an ephemeral answer, and lets others and read-only commands through', async () => {
    fake = await startFakeSlack();
    h = engineHarness({
      config: {
        slack: {
          approvers: ['U0APPROVER'],
          operators: [OPERATOR, OTHER],
          rateLimit: { runs: 2, per: '1m' },
        },
      },
    });
    slack = await startSlackFront(h.app.engine, fake);

    const first = await ask('verify set-nope', OPERATOR);
    const second = await ask('verify set-nope', OPERATOR);
    const third = await ask('backup all', OPERATOR);
    const status = await ask('runs', OPERATOR);
    const other = await ask('verify set-nope', OTHER);

    expect(first).toMatch(/no set 'set-nope'/);
    expect(second).toMatch(/no set 'set-nope'/);
    expect(third).toMatch(
      /You have started 2 runs in the last 1m, as many as drbot allows one person \(slack.rateLimit\)\. \/dr backup can start in \d+ s\./,
    );
    expect(status).not.toMatch(/rateLimit/);
    expect(other).toMatch(/no set 'set-nope'/);
    expect(h.app.engine.runs(10)).toEqual([]);
  });
});
