import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO } from '../fixtures/cli.js';
import { docker, waitFor } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { createSeed, FIXTURE_LABEL, teardownSeed } from '../fixtures/seed.js';

/**
 * The production image (Dockerfile), built offline the way the Dockerfile documents: the base is
 * drbot-test/node:latest (scripts/test-env/node-image.sh: Debian + this host's node and npm) and
 * the dependencies are this checkout's node_modules, handed to the build as .docker-deps/.
 * Tagged :latest so scripts/test-env/images.sh keeps it, and Docker's layer cache makes reruns
 * fast. Everything the tests start carries the seed's label, so teardownSeed() removes it.
 */
const BASE_IMAGE = 'drbot-test/node:latest';
const IMAGE = 'drbot-test/app:latest';
const SOCKET = '/var/run/docker.sock';
const STATE_VOLUME = 'drbot-image-test-state';
const BACKUP_VOLUME = 'drbot-image-test-backups';
const BOT = 'drbot-image-test-bot';
const DEPS = join(REPO, '.docker-deps');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI and returns its exit code and output (no throw: failures are asserted). */
function run(args: string[]): Result {
  const r = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function imageId(ref: string): string | undefined {
  const r = run(['image', 'inspect', '-f', '{{.Id}}', ref]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * Each build would otherwise leave two untagged images behind: the image that had the tag
 * before, and the build stage (labelled in the Dockerfile). The newest build stage stays, as
 * the layer cache of the next build; older ones and the untagged previous image go. Best
 * effort: an image still in use is left alone.
 */
function removeOldBuilds(previous: string | undefined): void {
  const old: string[] = [];
  if (previous && previous !== imageId(IMAGE)) old.push(previous);
  const stages = run([
    'images',
    '-q',
    '--no-trunc',
    '--filter',
    'dangling=true',
    '--filter',
    'label=drbot.stage=build',
  ])
    .stdout.split('\n')
    .filter(Boolean);
  // `docker images` lists the newest first.
  old.push(...stages.slice(1));
  for (const id of old) run(['image', 'rm', id]);
}

/** `docker build`, asynchronously (a cold build takes a while); throws with the output's tail. */
function build(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['build', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`docker build ${args.join(' ')} failed (${code}):\n${out.slice(-4000)}`)),
    );
  });
}

let socketGid: number;
let configDir: string;
let configPath: string;

/** What every drbot container here gets: the socket, the socket's group, the test config. */
function drbotArgs(options: { groupAdd?: boolean } = {}): string[] {
  return [
    '--label',
    FIXTURE_LABEL,
    '-v',
    `${SOCKET}:${SOCKET}`,
    ...(options.groupAdd === false ? [] : ['--group-add', String(socketGid)]),
    '-v',
    `${configPath}:/etc/drbot/drbot.yaml:ro`,
  ];
}

beforeAll(async () => {
  if (run(['image', 'inspect', BASE_IMAGE]).code !== 0) {
    throw new Error(
      `the image test builds on ${BASE_IMAGE}; build it with scripts/test-env/node-image.sh (scripts/test-env/images.sh and npm test do)`,
    );
  }
  if (!existsSync(join(REPO, 'node_modules', '.package-lock.json'))) {
    throw new Error('the offline image build uses the node_modules of this checkout; run `npm ci` first');
  }
  expect(statSync(SOCKET).isSocket(), `${SOCKET} is the Docker engine's socket`).toBe(true);
  socketGid = statSync(SOCKET).gid;

  // The offline dependency hand-over documented in the Dockerfile: node_modules hard-linked into
  // the build context as .docker-deps/ (ignored by git while it exists), removed after the build.
  rmSync(DEPS, { recursive: true, force: true });
  mkdirSync(DEPS);
  writeFileSync(join(DEPS, '.gitignore'), '*\n');
  try {
    const cp = spawnSync('cp', ['-al', join(REPO, 'node_modules'), `${DEPS}/`], { encoding: 'utf8' });
    if (cp.status !== 0) throw new Error(`cp -al node_modules .docker-deps/ failed: ${cp.stderr}`);
    const previous = imageId(IMAGE);
    await build(['--force-rm', '--build-arg', `NODE_IMAGE=${BASE_IMAGE}`, '-t', IMAGE, '.']);
    removeOldBuilds(previous);
  } finally {
    rmSync(DEPS, { recursive: true, force: true });
  }

  await createSeed();
  // The config an operator mounts over /etc/drbot/drbot.yaml: absolute paths on the image's
  // volumes, and the seed's MariaDB declared as the CLI tests declare it.
  configDir = mkdtempSync(join(tmpdir(), 'drbot-image-'));
  configPath = join(configDir, 'drbot.yaml');
  writeFileSync(
    configPath,
    stringify({
      state: '/var/lib/drbot/drbot.sqlite',
      storage: { local: { dir: '/backups' } },
      databases: [
        {
          name: 'mysql-prod',
          container: 'mysql-prod',
          engine: 'mariadb',
          tier: 'critical',
          user: 'root',
          passwordEnv: 'MYSQL_ROOT_PASSWORD',
        },
      ],
    }),
    { mode: 0o644 },
  );
});

afterAll(() => {
  teardownSeed();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('the container image', () => {
  it('runs as a non-root user, with the state and backup volumes and a health check', () => {
    const id = run(['run', '--rm', '--entrypoint', 'id', IMAGE]);
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout).toMatch(/^uid=10001\(drbot\) gid=10001\(drbot\)/);

    const config = JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as {
      User: string;
      Volumes: Record<string, unknown>;
      Env: string[];
      Healthcheck?: { Test: string[] };
    };
    expect(config.User).toBe('10001:10001');
    expect(Object.keys(config.Volumes).sort()).toEqual(['/backups', '/var/lib/drbot']);
    expect(config.Env).toContain('DRBOT_CONFIG=/etc/drbot/drbot.yaml');
    expect(config.Healthcheck?.Test[0]).toBe('CMD');
    expect(config.Healthcheck?.Test.join(' ')).toMatch(/\/healthz/);
  });

  it('ships only the production dependencies, the compiled code, igzip and age', () => {
    const ls = (dir: string) => {
      const res = run(['run', '--rm', '--entrypoint', 'ls', IMAGE, '-A', dir]);
      expect(res.code, res.stderr).toBe(0);
      return res.stdout.split('\n').filter(Boolean);
    };

    expect(ls('/app').sort()).toEqual(['bin', 'dist', 'node_modules', 'package.json']);
    expect(ls('/app/dist').sort()).toEqual(['commands', 'src']);
    const modules = ls('/app/node_modules');
    expect(modules).toEqual(expect.arrayContaining(['better-sqlite3', 'dockerode', '@slack', '@aws-sdk']));
    for (const dev of ['vitest', 'typescript', '@biomejs', 's3rver']) expect(modules).not.toContain(dev);
    expect(ls('/app/node_modules/better-sqlite3/build/Release')).toEqual(['better_sqlite3.node']);
    // The fast gzip drbot compresses with (backup.compressor: auto picks it up).
    const igzip = run(['run', '--rm', '--entrypoint', 'igzip', IMAGE, '--version']);
    expect(igzip.code, igzip.stderr).toBe(0);
    // The fast age drbot encrypts with (encryption.tool: auto picks it up).
    const age = run(['run', '--rm', '--entrypoint', 'age', IMAGE, '--version']);
    expect(age.code, age.stderr).toBe(0);
  });

  it('without the socket group it cannot use the Docker socket, and says so', () => {
    const res = run(['run', '--rm', ...drbotArgs({ groupAdd: false }), IMAGE, 'status']);

    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /Docker engine at unix:\/\/\/var\/run\/docker\.sock is unreachable \(EACCES\)/,
    );
  });

  it('`docker run … status` with the socket and its group answers about the seed', () => {
    const res = run(['run', '--rm', ...drbotArgs(), IMAGE, 'status']);

    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/app-data\s+volume\s+critical\s+realtime\s+7 years\s+15m\s+-/);
    expect(res.stdout).toMatch(/user-uploads\s+volume\s+important\s+daily\s+1 year/);
    expect(res.stdout).toMatch(/cache-data\s+volume\s+-\s+none\s+.*excluded/);
    expect(res.stdout).toMatch(/mysql-prod\s+mariadb db\s+critical/);
    expect(res.stdout).toMatch(/postgres-prod\s+postgres db\s+important/);
    expect(res.stdout).toMatch(/unprotected volumes[^\n]*\n(.*\n)*\s+scratch-unlabelled/);
    expect(res.stdout).toMatch(/targets: local: \/backups/);
  });

  it('backs up into the /backups volume as the non-root user, and a later container verifies it', () => {
    const volumes = ['-v', `${STATE_VOLUME}:/var/lib/drbot`, '-v', `${BACKUP_VOLUME}:/backups`];
    for (const v of [STATE_VOLUME, BACKUP_VOLUME]) docker(['volume', 'create', '--label', FIXTURE_LABEL, v]);

    const backup = run(['run', '--rm', ...drbotArgs(), ...volumes, IMAGE, 'backup', 'app-data']);
    expect(backup.code, `${backup.stdout}\n${backup.stderr}`).toBe(0);

    // The state lives in its volume: a new container sees the set and re-reads its checksums.
    const verify = run(['run', '--rm', ...drbotArgs(), ...volumes, IMAGE, 'verify', 'latest']);
    expect(verify.code, `${verify.stdout}\n${verify.stderr}`).toBe(0);

    const files = docker([
      'run',
      '--rm',
      '--label',
      FIXTURE_LABEL,
      '-v',
      `${BACKUP_VOLUME}:/backups:ro`,
      BUSYBOX_IMAGE,
      'sh',
      '-c',
      'find /backups -type f -exec stat -c "%u %n" {} +',
    ]);
    expect(files).toMatch(/^10001 \/backups\/\d{4}\/\d{2}\/\d{2}\/[^/]+\/app-data\.tar\.gz$/m);
    expect(files).toMatch(/^10001 \/backups\/.*\/manifest\.json$/m);
    expect(files).toMatch(/^10001 \/backups\/.*\/SHA256SUMS$/m);
  });

  it('the bot container (no arguments) turns healthy; without the socket group, unhealthy', async () => {
    const health = (name: string) => docker(['inspect', '--format', '{{.State.Health.Status}}', name]).trim();
    // -i keeps the terminal session (no Slack secrets) open; the health check runs every second.
    const start = (name: string, groupAdd: boolean) =>
      docker([
        'run',
        '-d',
        '-i',
        '--name',
        name,
        ...drbotArgs({ groupAdd }),
        '--health-interval',
        '1s',
        '--health-retries',
        '2',
        '--health-start-period',
        '1s',
        IMAGE,
      ]);

    start(BOT, true);
    await waitFor(`${BOT} to be healthy`, () => health(BOT) === 'healthy', 60_000, 500);
    // The CLI is on PATH for `docker exec`, with the container's socket group.
    expect(docker(['exec', BOT, 'drbot', 'status'])).toMatch(/app-data\s+volume\s+critical/);

    start(`${BOT}-nogroup`, false);
    await waitFor(
      `${BOT}-nogroup to be unhealthy`,
      () => health(`${BOT}-nogroup`) === 'unhealthy',
      60_000,
      500,
    );
    const log = docker(['inspect', '--format', '{{json .State.Health.Log}}', `${BOT}-nogroup`]);
    expect(log).toMatch(/503 .*EACCES/);
  });
});
