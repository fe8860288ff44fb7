// Backup hooks on the real fixture: container labels run commands before, after, on error and finally.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, spawnDrbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, execIn, removeByLabel, waitFor } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';

const LABEL = 'drbot-test.hooks';
const VOLUME = 'hooked-data';
const APP = 'hooked-app';
let s3: S3Server;
let ws: Workspace;

/** A hook that appends its name to /data/hooks.log and prints a line, as argv. */
const hook = (name: string, extra = '') =>
  JSON.stringify(['sh', '-c', `echo ${name} >> /data/hooks.log; echo ${name} ran${extra}`]);

/** The app container on the volume, with these hook labels (labels are fixed at create time). */
function startApp(labels: Record<string, string>) {
  docker(['rm', '-f', APP]);
  docker([
    'run',
    '-d',
    '--name',
    APP,
    '--label',
    LABEL,
    ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    '-v',
    `${VOLUME}:/data`,
    BUSYBOX_IMAGE,
    'sleep',
    '3600',
  ]);
  execIn(APP, ['sh', '-c', 'rm -f /data/hooks.log; echo payload > /data/payload.txt']);
}

const hookLog = () =>
  execIn(APP, ['sh', '-c', 'cat /data/hooks.log 2>/dev/null || true']).trim().split('\n').filter(Boolean);
const running = () => docker(['inspect', '-f', '{{.State.Running}}', APP]).trim() === 'true';

async function timeline(runId: string): Promise<string[]> {
  const res = await drbot(ws, ['run', runId, '--json']);
  return (JSON.parse(res.stdout).data.events as Array<{ stage?: string; message: string }>)
    .filter((e) => e.stage === 'hooks')
    .map((e) => e.message);
}

const runIdOf = (stdout: string) => /(run-\d+)/.exec(stdout)?.[1] as string;

beforeAll(async () => {
  removeByLabel(LABEL);
  docker([
    'volume',
    'create',
    '--label',
    LABEL,
    '--label',
    'tier=important',
    '--label',
    'drbot.archive=stopped',
    VOLUME,
  ]);
  s3 = await startS3();
  ws = workspace({ s3 });
});

afterAll(async () => {
  await s3?.stop();
  removeByLabel(LABEL);
});

describe('backup hooks on the real fixture', () => {
  it('runs pre, the archive, post and finally in order, with their output on the timeline', async () => {
    startApp({
      'drbot.hooks.pre': hook('pre'),
      'drbot.hooks.post': hook('post'),
      'drbot.hooks.error': hook('error'),
      'drbot.hooks.finally': hook('finally'),
    });

    const res = await drbot(ws, ['backup', VOLUME]);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(hookLog()).toEqual(['pre', 'post', 'finally']);
    expect(await timeline(runIdOf(res.stdout))).toEqual([
      expect.stringMatching(/^pre hook in hooked-app: exit 0 \(.*\): pre ran$/),
      expect.stringMatching(/^post hook in hooked-app: exit 0 \(.*\): post ran$/),
      expect.stringMatching(/^finally hook in hooked-app: exit 0 \(.*\): finally ran$/),
    ]);
    // The pre hook ran before the archive was taken, the post hook after: the archive holds
    // the log as the pre hook left it.
    const sets = readdirSync(join(ws.backupDir), { recursive: true }) as string[];
    const tar = sets.find((f) => f.endsWith(`${VOLUME}.tar.gz`)) as string;
    const log = execFileSync('sh', ['-c', `tar -xzOf "${join(ws.backupDir, tar)}" ./hooks.log`])
      .toString()
      .trim();
    expect(log).toBe('pre');
    expect(running()).toBe(true);
  });

  it('fails the asset with a failing pre hook’s output, runs error and finally, archives nothing', async () => {
    startApp({
      'drbot.hooks.pre': JSON.stringify([
        'sh',
        '-c',
        'echo pre >> /data/hooks.log; echo queue is busy; exit 4',
      ]),
      'drbot.hooks.error': hook('error'),
      'drbot.hooks.finally': hook('finally'),
    });

    const res = await drbot(ws, ['backup', VOLUME]);

    expect(res.code).toBe(1);
    expect(res.stdout).toContain('pre hook in hooked-app failed: exit 4: queue is busy');
    expect(hookLog()).toEqual(['pre', 'error', 'finally']);
    expect(running()).toBe(true);
  });

  it('starts the stopped container again and runs error and finally when the upload fails', async () => {
    // The pre hook notes itself, then takes a few seconds: S3 goes away meanwhile, after the
    // run checked its targets and before the upload starts.
    startApp({
      'drbot.hooks.pre': JSON.stringify(['sh', '-c', 'echo pre >> /data/hooks.log; sleep 3; echo pre ran']),
      'drbot.hooks.post': hook('post'),
      'drbot.hooks.error': hook('error'),
      'drbot.hooks.finally': hook('finally'),
    });
    const { result } = spawnDrbot(ws, ['backup', VOLUME]);
    await waitFor('the pre hook to start', () => hookLog().includes('pre'), 60_000, 50);
    await s3.stop();

    const res = await result;

    expect(res.code, res.stdout).toBe(1);
    expect(res.stdout).toMatch(/s3/i);
    expect(hookLog()).toEqual(['pre', 'error', 'finally']);
    expect(running()).toBe(true);
    expect(await timeline(runIdOf(res.stdout))).toContainEqual(
      expect.stringMatching(/^error hook in hooked-app: exit 0 \(.*\): error ran$/),
    );
  });
});
