// A backup run from cron with the CLI tells the team's webhooks how it went: no Slack involved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, removeByLabel } from '../fixtures/docker.js';
import { type HttpReceiver, startReceiver } from '../fixtures/http-receiver.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';

const LABEL = 'drbot.fixture=cli-notify';
const VOLUME = 'cli-notify-vol';
let hook: HttpReceiver;
let s3: S3Server;
let ws: Workspace;

beforeAll(async () => {
  removeByLabel(LABEL);
  docker(['volume', 'create', '--label', LABEL, '--label', 'tier=important', VOLUME]);
  docker(['run', '--rm', '-v', `${VOLUME}:/v`, BUSYBOX_IMAGE, 'sh', '-c', 'echo data > /v/file']);
  hook = await startReceiver();
  s3 = await startS3();
  ws = workspace({
    s3,
    extra: {
      notifications: {
        webhooks: [{ url: `${hook.origin}/hook` }],
        retry: { attempts: 2, backoff: '1s', maxBackoff: '1s' },
        timeout: '5s',
      },
    },
  });
});

afterAll(async () => {
  await s3?.stop();
  await hook?.close();
  removeByLabel(LABEL);
});

const events = () =>
  hook.requests.map((r) => JSON.parse(r.body) as { event: string; runId?: string; level: string });

describe('drbot backup from the command line', () => {
  it('sends backup-succeeded with its run, then backup-failed when S3 is gone', async () => {
    const good = await drbot(ws, ['backup', VOLUME]);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const goodRun = /(run-\d+)/.exec(good.stdout)?.[1];
    expect(events()).toEqual([
      expect.objectContaining({ event: 'backup-succeeded', level: 'info', runId: goodRun }),
    ]);

    await s3.stop();
    const bad = await drbot(ws, ['backup', VOLUME]);
    expect(bad.code).toBe(1);
    const badRun = /(run-\d+)/.exec(bad.stdout)?.[1];
    expect(events()[1]).toEqual(
      expect.objectContaining({ event: 'backup-failed', level: 'error', runId: badRun }),
    );
  });
});
