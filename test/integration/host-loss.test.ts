import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildApp } from '../../src/app.js';
import { buildConfig } from '../../src/config.js';
import type { Run } from '../../src/domain/runs.js';
import { APPROVE_ACTION } from '../../src/front/slack/approvals.js';
import { prepareEngine } from '../../src/front/startup.js';
import { createLogger } from '../../src/log.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { drbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, waitFor } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { removeS3Dir, type S3Server, startS3, TEST_S3_ENV } from '../fixtures/s3.js';
import {
  createSeed,
  mysqlFingerprint,
  postgresFingerprint,
  type Seed,
  teardownSeed,
  volumeHashes,
} from '../fixtures/seed.js';
import { type SlackHarness, startSlackFront } from '../fixtures/slack-harness.js';

/**
 * The host is lost: containers, volumes, the user network, the local backup directory and
 * drbot's state are gone. A new host has Docker, the images, drbot, its config and the S3
 * credentials; `drbot restore full --yes` must bring everything back from the buckets alone.
 */
const NETWORK = 'shop-net';
const API_IMAGE = 'drbot-test/shop-api:1';
const API_TOKEN = `tok-${Math.random().toString(36).slice(2)}${Date.now()}`;
const OPERATOR = 'U0ONCALL';
const APPROVER = 'U0SECOND';
const CONTAINERS = ['mysql-prod', 'postgres-prod', 'web', 'shop-api'];
const VOLUMES = ['app-data', 'user-uploads', 'config-data', 'mysql-prod-data', 'postgres-prod-data'];

let seed: Seed;
let primary: S3Server;
let offsite: S3Server;
let ws: Workspace;
let before: {
  containers: Record<string, Inspected>;
  volumes: Record<string, string>;
  labels: Record<string, string>;
  mysql: string;
  postgres: string;
  runs: string[];
};

interface Inspected {
  image: string;
  mounts: string[];
  ports: unknown;
  networks: string[];
  restart: string;
}

function inspect(name: string): Inspected {
  const j = JSON.parse(docker(['container', 'inspect', name]))[0];
  return {
    image: j.Config.Image,
    mounts: (j.Mounts as Array<{ Type: string; Name?: string; Destination: string; RW: boolean }>)
      .map((m) => `${m.Type}:${m.Name ?? ''}:${m.Destination}:${m.RW ? 'rw' : 'ro'}`)
      .sort(),
    ports: j.HostConfig.PortBindings ?? {},
    networks: Object.entries(j.NetworkSettings.Networks as Record<string, { Aliases: string[] | null }>)
      .map(
        ([n, v]) => `${n}:${(v.Aliases ?? []).filter((a) => a !== j.Id.slice(0, 12) && a !== name).sort()}`,
      )
      .sort(),
    restart: j.HostConfig.RestartPolicy.Name,
  };
}

/** Everything of the old host that a disaster takes: containers, volumes, network, files. */
function loseTheHost(): void {
  const present = CONTAINERS.filter(exists);
  if (present.length) docker(['rm', '-f', '-v', ...present]);
  for (const v of VOLUMES) if (volumeExists(v)) docker(['volume', 'rm', '-f', v]);
  if (networkExists()) docker(['network', 'rm', NETWORK]);
  rmSync(ws.backupDir, { recursive: true, force: true });
  rmSync(join(ws.dir, 'state'), { recursive: true, force: true });
}

const exists = (c: string) => {
  try {
    docker(['container', 'inspect', c]);
    return true;
  } catch {
    return false;
  }
};
const volumeExists = (v: string) => {
  try {
    docker(['volume', 'inspect', v]);
    return true;
  } catch {
    return false;
  }
};
const networkExists = () => {
  try {
    docker(['network', 'inspect', NETWORK]);
    return true;
  } catch {
    return false;
  }
};

/** Every file a directory tree holds, gunzipped when it is gzip, as one string. */
function allText(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (e === 'recovery.env') continue; // the operator's own file of secrets
      if (statSync(p).isDirectory()) walk(p);
      else {
        const b = readFileSync(p);
        out.push(b.toString('latin1'));
        if (b[0] === 0x1f && b[1] === 0x8b) out.push(gunzipSync(b).toString('latin1'));
      }
    }
  };
  walk(dir);
  return out.join('\n');
}

const secretEnv = () => ({ MYSQL_ROOT_PASSWORD: seed.mysqlPassword });

function envFile(lines: Record<string, string>): string {
  const path = join(ws.dir, 'recovery.env');
  writeFileSync(
    path,
    Object.entries(lines)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  return path;
}

/** `drbot restore full --yes` as an operator runs it on the new host, with every secret at hand. */
function restoreFullFromCli() {
  const file = envFile({ API_TOKEN, POSTGRES_PASSWORD: seed.postgresPassword });
  return drbot(ws, ['restore', 'full', '--yes', '--env-file', file], secretEnv());
}

/** Data that must be exactly as before the disaster: both databases and every volume. */
function expectDataBack(): void {
  expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(before.mysql);
  expect(postgresFingerprint('postgres-prod', seed.postgresEnv)).toBe(before.postgres);
  for (const [v, hashes] of Object.entries(before.volumes)) expect(volumeHashes(v), v).toBe(hashes);
}

beforeAll(async () => {
  seed = await createSeed();
  primary = await startS3('drbot-primary');
  offsite = await startS3('drbot-offsite');
  docker(['network', 'create', '--label', 'drbot.fixture=seed', '--subnet', '172.29.66.0/24', NETWORK]);
  docker(['network', 'connect', '--alias', 'db', NETWORK, 'mysql-prod']);
  docker(['tag', BUSYBOX_IMAGE, API_IMAGE]);
  docker([
    'run',
    '-d',
    '--name',
    'shop-api',
    '--label',
    'drbot.fixture=seed',
    '--label',
    'team=shop',
    '--network',
    NETWORK,
    '--network-alias',
    'api',
    '-p',
    '127.0.0.1:18081:8081',
    '--restart',
    'unless-stopped',
    '-e',
    'APP_MODE=prod',
    '-e',
    `API_TOKEN=${API_TOKEN}`,
    '-v',
    'config-data:/srv/conf:ro',
    API_IMAGE,
    'httpd',
    '-f',
    '-p',
    '8081',
    '-h',
    '/srv/conf',
  ]);
  const s3 = (s: S3Server) => ({
    bucket: s.bucket,
    prefix: 'drbot',
    region: 'us-east-1',
    endpoint: s.endpoint,
    forcePathStyle: true,
  });
  ws = workspace({
    s3: primary,
    extra: {
      storage: { local: { dir: './backups' }, s3: s3(primary), offsite: [s3(offsite)] },
      services: [
        { container: 'web' },
        { container: 'shop-api', health: { url: 'http://127.0.0.1:18081/app.conf' } },
      ],
    },
  });
  const backup = await drbot(ws, ['backup', 'all']);
  expect(backup.code, backup.stdout + backup.stderr).toBe(0);
  const runs = await drbot(ws, ['runs', '20']);
  before = {
    containers: Object.fromEntries(CONTAINERS.map((c) => [c, inspect(c)])),
    volumes: Object.fromEntries(['app-data', 'user-uploads', 'config-data'].map((v) => [v, volumeHashes(v)])),
    labels: Object.fromEntries(
      ['app-data', 'user-uploads', 'config-data'].map((v) => [
        v,
        docker(['volume', 'inspect', '--format', '{{json .Labels}}', v]),
      ]),
    ),
    mysql: mysqlFingerprint('mysql-prod', seed.mysqlEnv),
    postgres: postgresFingerprint('postgres-prod', seed.postgresEnv),
    runs: [...runs.stdout.matchAll(/run-\d+/g)].map((m) => m[0]),
  };
  expect(before.runs.length).toBeGreaterThan(0);
});

afterAll(async () => {
  teardownSeed();
  if (networkExists()) docker(['network', 'rm', NETWORK]);
  try {
    docker(['rmi', API_IMAGE]);
  } catch {
    // already gone
  }
  await primary?.stop();
  await offsite?.stop();
  if (primary) removeS3Dir(primary);
  if (offsite) removeS3Dir(offsite);
});

describe('a lost host, recovered from the buckets alone', () => {
  it('stops in assess, creating nothing, when a secret value or an image is missing', async () => {
    loseTheHost();

    const noSecret = await drbot(ws, ['restore', 'full', '--yes'], secretEnv());
    docker(['rmi', API_IMAGE]);
    const noImage = await drbot(
      ws,
      [
        'restore',
        'full',
        '--yes',
        '--env-file',
        envFile({ API_TOKEN, POSTGRES_PASSWORD: seed.postgresPassword }),
      ],
      secretEnv(),
    );
    docker(['tag', BUSYBOX_IMAGE, API_IMAGE]);

    expect(noSecret.code, noSecret.stderr).not.toBe(0);
    expect(noSecret.stdout + noSecret.stderr).toMatch(/API_TOKEN \(for shop-api\)/);
    expect(noSecret.stdout + noSecret.stderr).toMatch(/POSTGRES_PASSWORD \(for postgres-prod\)/);
    expect(noSecret.stdout + noSecret.stderr).toMatch(/--env-file/);
    expect(noImage.code, noImage.stderr).not.toBe(0);
    expect(noImage.stdout + noImage.stderr).toContain(API_IMAGE);
    expect(noImage.stdout + noImage.stderr).toMatch(/docker load/);
    for (const c of CONTAINERS) expect(exists(c), c).toBe(false);
    for (const v of VOLUMES) expect(volumeExists(v), v).toBe(false);
    expect(networkExists()).toBe(false);
  });

  it('re-creates networks, volumes, containers and data with `restore full --yes`', async () => {
    loseTheHost();

    const restore = await restoreFullFromCli();

    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stderr).toMatch(/catalog rebuilt from local, s3, offsite-1/);
    expect(restore.stdout).toMatch(/bare-host recovery/);
    for (const c of CONTAINERS) {
      expect(inspect(c), c).toEqual(before.containers[c]);
      expect(docker(['container', 'inspect', '--format', '{{.State.Running}}', c]).trim(), c).toBe('true');
    }
    expectDataBack();
    for (const [v, labels] of Object.entries(before.labels))
      expect(docker(['volume', 'inspect', '--format', '{{json .Labels}}', v]).trim(), v).toBe(labels.trim());
    const health = await fetch('http://127.0.0.1:18081/app.conf');
    expect(health.status).toBe(200);
    const runs = await drbot(ws, ['runs', '50']);
    for (const id of before.runs) expect(runs.stdout).toContain(id);
    const runId = /run-\d+/.exec(restore.stdout)?.[0] ?? 'run-0';
    const pm = await drbot(ws, ['run', runId, '--postmortem']);
    expect(pm.stdout).toMatch(/\| Recovery \| bare host: .*read from s3/);
    expect(pm.stdout).toMatch(/\*\*Bare-host recovery\*\*/);
    expect(pm.stdout).toMatch(/\| RTO achieved \| \d/);
  });

  it('reads from the offsite bucket on its own when the primary bucket is empty too, and says so', async () => {
    loseTheHost();
    for (const e of readdirSync(primary.directory)) {
      const bucketDir = join(primary.directory, e);
      for (const k of readdirSync(bucketDir)) rmSync(join(bucketDir, k), { recursive: true, force: true });
    }

    const restore = await restoreFullFromCli();

    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout + restore.stderr).toMatch(/reading from offsite-1/);
    expectDataBack();
    await waitFor('shop-api to answer', async () => (await fetch('http://127.0.0.1:18081/app.conf')).ok);
  });

  it('recovers the same way from Slack: `/dr restore full` on the new host, approved by a second person', async () => {
    loseTheHost();
    const secrets = { ...secretEnv(), POSTGRES_PASSWORD: seed.postgresPassword, API_TOKEN };
    Object.assign(process.env, secrets, TEST_S3_ENV);
    const raw = parse(readFileSync(ws.configPath, 'utf8'));
    const config = buildConfig(
      { ...raw, slack: { alertsChannel: 'C0ALERTS', approvers: [APPROVER], operators: [OPERATOR] } },
      ws.configPath,
    );
    const app = buildApp(config, createLogger({ level: 'warn' }));
    const fake = await startFakeSlack();
    let slack: SlackHarness | undefined;
    try {
      const notices = await prepareEngine(app.engine);
      slack = await startSlackFront(app.engine, fake);
      const mark = fake.calls.length;

      await slack.slash('restore full', OPERATOR);
      const card = await fake.waitFor(
        (c) =>
          c.method === 'chat.postMessage' &&
          fake.calls.indexOf(c) >= mark &&
          JSON.stringify(c.body.blocks ?? '').includes('Approval needed'),
        60_000,
      );
      const approve = (
        card.body.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>
      )
        .find((b) => b.type === 'actions')
        ?.elements?.find((e) => e.action_id === APPROVE_ACTION);
      await slack.click(APPROVE_ACTION, approve?.value as string, APPROVER, card.response.ts as string);
      const run = app.engine.runs(5).find((r) => r.kind === 'restore') as Run;
      await waitFor(
        'the restore to end',
        () => !['running', 'pending-approval'].includes(app.engine.run(run.id).run.status),
        240_000,
      );

      expect(notices.map((n) => n.title).join('\n')).toMatch(/catalog rebuilt from local, s3, offsite-1/);
      expect(JSON.stringify(card.body.blocks)).toMatch(/bare-host recovery/);
      expect(JSON.stringify(card.body.blocks)).toMatch(/API_TOKEN|shop-api/);
      expect(app.engine.run(run.id).run.status, app.engine.run(run.id).run.error).toBe('succeeded');
      expectDataBack();
      for (const c of CONTAINERS) expect(inspect(c), c).toEqual(before.containers[c]);
      const said = JSON.stringify(fake.calls.map((c) => c.body));
      for (const secret of Object.values(secrets)) expect(said.includes(secret)).toBe(false);
    } finally {
      await slack?.front.stop();
      await fake.stop();
      app.close();
      for (const k of Object.keys(secrets)) delete process.env[k];
    }
  });

  it('writes no secret value into any manifest, host spec, state snapshot or log', () => {
    const stored = allText(offsite.directory) + allText(ws.dir);
    const logs = execFileSync('find', [ws.dir, '-name', '*.log']).toString();

    expect(stored).toContain('"API_TOKEN"');
    for (const secret of [seed.mysqlPassword, seed.postgresPassword, API_TOKEN]) {
      expect(stored.includes(secret)).toBe(false);
      expect(logs.includes(secret)).toBe(false);
    }
  });
});
