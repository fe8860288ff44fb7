// Host specs against the real engine: record a container, its network and volume, remove them, create them again.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/adapters/docker/docker-runtime.js';
import {
  type ContainerSpec,
  envList,
  type NetworkSpec,
  type VolumeSpec,
} from '../../src/domain/host-spec.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { docker, dockerInfoOk, waitFor } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';

const LABEL = 'drbot.fixture=host-spec-test';
const suffix = randomBytes(3).toString('hex');
const NET = `hs-net-${suffix}`;
const VOL = `hs-vol-${suffix}`;
const APP = `hs-app-${suffix}`;
const ALIAS = `hs-alias-${suffix}`;
const MADE_UP_IMAGE = `hs-made-up/nothing-${suffix}:1`;
// A value only this run knows, so finding it anywhere in a spec can only mean a leak.
const SECRET = `hs-secret-${randomBytes(12).toString('hex')}`;

interface Inspect {
  Config: { Image: string; Env: string[]; Labels: Record<string, string>; WorkingDir: string };
  HostConfig: { PortBindings: unknown; RestartPolicy: { Name: string } };
  Mounts: Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean }>;
  NetworkSettings: {
    Networks: Record<string, { Aliases: string[] | null; IPAMConfig: { IPv4Address?: string } | null }>;
  };
  State: { Running: boolean; Health?: { Status: string } };
}

function inspect(name: string): Inspect {
  return (JSON.parse(docker(['inspect', name])) as Inspect[])[0] as Inspect;
}

/** A port nothing listens on right now, on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A user network on a /24 nobody uses; a few random tries, since other networks may hold one. */
function createFixtureNetwork(): { subnet: string; gateway: string; ip: string } {
  let lastError: unknown;
  for (let i = 0; i < 5; i++) {
    const base = `10.${200 + ((randomBytes(1)[0] ?? 0) % 50)}.${(randomBytes(1)[0] ?? 0) % 250}`;
    const net = { subnet: `${base}.0/24`, gateway: `${base}.1`, ip: `${base}.10` };
    try {
      docker(
        ['network', 'create', '--subnet', net.subnet, '--gateway', net.gateway].concat([
          '--label',
          LABEL,
          '--label',
          'hs.purpose=backend',
          NET,
        ]),
      );
      return net;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

function removeFixture(): void {
  for (const args of [
    ['rm', '-f', '-v', APP],
    ['network', 'rm', NET],
    ['volume', 'rm', '-f', VOL],
  ]) {
    try {
      docker(args);
    } catch {
      // not there: nothing to remove
    }
  }
}

describe('DockerRuntime host specs (real engine)', () => {
  const runtime = new DockerRuntime(
    process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
    createLogger({ level: 'silent' }),
  );
  const bindDir = mkdtempSync(join(tmpdir(), 'hs-bind-'));
  let port = 0;
  let address = { subnet: '', gateway: '', ip: '' };
  let original: Inspect;
  let spec: ContainerSpec;
  let networkSpec: NetworkSpec;
  let volumeSpec: VolumeSpec;

  beforeAll(async () => {
    // Fails, never skips: without an engine this suite has nothing to say.
    if (!dockerInfoOk()) throw new Error('no Docker engine answers (docker info failed)');
    docker(['image', 'inspect', BUSYBOX_IMAGE]);
    writeFileSync(join(bindDir, 'app.conf'), 'mode=prod\n');
    port = await freePort();
    address = createFixtureNetwork();
    docker(['volume', 'create', '--label', LABEL, '--label', 'hs.kind=data', VOL]);
    docker(
      [
        'run',
        '-d',
        '--name',
        APP,
        '--network',
        NET,
        '--network-alias',
        ALIAS,
        '--ip',
        address.ip,
        '-p',
        `127.0.0.1:${port}:8080`,
        '--restart',
        'unless-stopped',
        '--label',
        LABEL,
        '--label',
        'hs.role=app',
        '--health-cmd',
        'test -f /config/app.conf',
        '--health-interval',
        '1s',
        '--health-retries',
        '3',
        '--workdir',
        '/data',
        '-e',
        'APP_MODE=prod',
        // The value comes from the CLI's environment, never its argv.
        '-e',
        'DB_PASSWORD',
        '-v',
        `${VOL}:/data`,
        '-v',
        `${bindDir}:/config:ro`,
        BUSYBOX_IMAGE,
        'sleep',
        '3600',
      ],
      { env: { DB_PASSWORD: SECRET } },
    );
    original = inspect(APP);
  });

  afterAll(() => {
    removeFixture();
    rmSync(bindDir, { recursive: true, force: true });
  });

  it('records the container, network and volume without the secret value', async () => {
    const captured = await runtime.containerSpec(APP);
    const net = await runtime.networkSpec(NET);
    const vol = await runtime.volumeSpec(VOL);

    expect(captured && net && vol).toBeTruthy();
    spec = captured as ContainerSpec;
    networkSpec = net as NetworkSpec;
    volumeSpec = vol as VolumeSpec;
    const json = JSON.stringify({ spec, networkSpec, volumeSpec });
    expect(json.includes(SECRET)).toBe(false);
    expect(spec.env).toContainEqual({ name: 'DB_PASSWORD', secret: true });
    expect(spec.env).toContainEqual({ name: 'APP_MODE', value: 'prod', secret: false });
    expect(spec).toMatchObject({
      name: APP,
      image: BUSYBOX_IMAGE,
      cmd: ['sleep', '3600'],
      networkMode: NET,
      networks: [{ name: NET, aliases: [ALIAS], ipv4Address: address.ip }],
      ports: [{ containerPort: '8080/tcp', hostIp: '127.0.0.1', hostPort: String(port) }],
      restartPolicy: { name: 'unless-stopped', maximumRetryCount: 0 },
      labels: { 'drbot.fixture': 'host-spec-test', 'hs.role': 'app' },
      healthcheck: { test: ['CMD-SHELL', 'test -f /config/app.conf'], interval: 1e9, retries: 3 },
      workingDir: '/data',
      links: [],
    });
    expect(spec.imageId).toMatch(/^sha256:/);
    expect(spec.hostname).toBeUndefined();
    expect(spec.mounts).toEqual(
      expect.arrayContaining([
        { type: 'volume', source: VOL, destination: '/data', readOnly: false },
        { type: 'bind', source: bindDir, destination: '/config', readOnly: true },
      ]),
    );
    expect(networkSpec).toMatchObject({
      name: NET,
      driver: 'bridge',
      ipam: [{ subnet: address.subnet, gateway: address.gateway }],
      labels: { 'drbot.fixture': 'host-spec-test', 'hs.purpose': 'backend' },
      internal: false,
    });
    expect(volumeSpec).toMatchObject({
      name: VOL,
      driver: 'local',
      labels: { 'drbot.fixture': 'host-spec-test', 'hs.kind': 'data' },
    });
    expect(await runtime.listNetworks()).toEqual(expect.arrayContaining(['bridge', NET]));
  });

  it('creates them again from the specs, the secret filled back in', async () => {
    removeFixture();
    expect(await runtime.containerSpec(APP)).toBeUndefined();
    expect(await runtime.networkSpec(NET)).toBeUndefined();
    expect(await runtime.volumeSpec(VOL)).toBeUndefined();
    const { env, missing } = envList(spec.env, (name) => (name === 'DB_PASSWORD' ? SECRET : undefined));

    await runtime.createNetwork(networkSpec);
    await runtime.createNetwork(networkSpec); // already there: not an error
    await runtime.createVolume(volumeSpec.name, volumeSpec.labels, {
      driver: volumeSpec.driver,
      driverOpts: volumeSpec.options,
    });
    await runtime.createContainer(spec, env);
    await runtime.startContainer(APP);

    expect(missing).toEqual([]);
    const again = inspect(APP);
    expect(again.Config.Image).toBe(original.Config.Image);
    expect(again.Config.WorkingDir).toBe('/data');
    expect(again.Config.Labels).toEqual(original.Config.Labels);
    // The secret is compared as a yes/no so a failure cannot print it.
    expect(again.Config.Env.includes(`DB_PASSWORD=${SECRET}`)).toBe(true);
    const masked = (e: string[]) => e.map((v) => v.replace(/^(DB_PASSWORD=).*/, '$1…')).sort();
    expect(masked(again.Config.Env)).toEqual(masked(original.Config.Env));
    const mounts = (i: Inspect) =>
      i.Mounts.map((m) => ({
        type: m.Type,
        name: m.Name,
        source: m.Type === 'bind' ? m.Source : undefined,
        destination: m.Destination,
        rw: m.RW,
      })).sort((a, b) => a.destination.localeCompare(b.destination));
    expect(mounts(again)).toEqual(mounts(original));
    expect(again.HostConfig.PortBindings).toEqual(original.HostConfig.PortBindings);
    expect(again.HostConfig.RestartPolicy.Name).toBe('unless-stopped');
    const endpoint = again.NetworkSettings.Networks[NET];
    expect(endpoint?.Aliases).toContain(ALIAS);
    expect(endpoint?.IPAMConfig?.IPv4Address).toBe(address.ip);
    expect(Object.keys(again.NetworkSettings.Networks)).toEqual([NET]);
    expect(JSON.parse(docker(['network', 'inspect', '-f', '{{json .Labels}}', NET]))).toEqual(
      networkSpec.labels,
    );
    expect(JSON.parse(docker(['volume', 'inspect', '-f', '{{json .Labels}}', VOL]))).toEqual(
      volumeSpec.labels,
    );
    // Recorded again, the container is the one that was recorded.
    // (Inspect lists mounts in no fixed order, so they are compared as a set.)
    const byDestination = (c: ContainerSpec | undefined) =>
      c && { ...c, mounts: [...c.mounts].sort((a, b) => a.destination.localeCompare(b.destination)) };
    expect(byDestination(await runtime.containerSpec(APP))).toEqual(byDestination(spec));
    await waitFor(
      'the re-created container to be healthy',
      () => inspect(APP).State.Health?.Status === 'healthy',
      30_000,
    );
  });

  it('tells a missing image, and fails to pull one no registry has, naming it', async () => {
    expect(await runtime.imagePresent(BUSYBOX_IMAGE)).toBe(true);
    expect(await runtime.imagePresent(MADE_UP_IMAGE)).toBe(false);

    const pulled = runtime.pullImage(MADE_UP_IMAGE);

    await expect(pulled).rejects.toBeInstanceOf(AppError);
    await expect(pulled).rejects.toThrow(MADE_UP_IMAGE);
    await expect(pulled).rejects.toMatchObject({ code: 'DOCKER_FAILED', kind: 'external' });
  });
});
