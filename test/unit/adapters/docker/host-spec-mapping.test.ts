// Unit tests of the Docker adapter's host-spec mapping: inspect answers → specs → create calls.
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  containerCreatePlan,
  containerSpecFromInspect,
  linkSpec,
  networkSpecFromInspect,
  volumeSpecFromInspect,
} from '../../../../src/adapters/docker/host-spec-mapping.js';

const ID = 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789';

type Overrides = {
  Config?: Partial<Docker.ContainerInspectInfo['Config']>;
  HostConfig?: Partial<Docker.HostConfig>;
  Networks?: Record<string, Record<string, unknown>>;
  Mounts?: Docker.ContainerInspectInfo['Mounts'];
};

/** An inspect answer shaped like the engine's, for a container `app` on the user network `backend`. */
function anInspect(o: Overrides = {}): Docker.ContainerInspectInfo {
  return {
    Id: ID,
    Name: '/app',
    Image: 'sha256:1111',
    Config: {
      Hostname: ID.slice(0, 12),
      Image: 'shop/app:2.1',
      Env: ['PATH=/bin', 'APP_MODE=prod', 'DB_PASSWORD=hunter2'],
      Cmd: ['serve'],
      Entrypoint: null,
      Labels: { role: 'app' },
      User: '',
      WorkingDir: '',
      ...o.Config,
    },
    HostConfig: {
      NetworkMode: 'backend',
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }] },
      Links: null,
      ...o.HostConfig,
    },
    Mounts: o.Mounts ?? [
      {
        Type: 'volume',
        Name: 'app-data',
        Source: '/var/lib/docker/volumes/app-data/_data',
        Destination: '/data',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
      {
        Type: 'bind',
        Source: '/etc/app',
        Destination: '/config',
        Mode: 'ro',
        RW: false,
        Propagation: 'rprivate',
      },
    ],
    NetworkSettings: {
      Networks: o.Networks ?? {
        backend: { Aliases: ['api', ID.slice(0, 12)], IPAMConfig: { IPv4Address: '10.9.0.10' } },
      },
    },
  } as unknown as Docker.ContainerInspectInfo;
}

describe('containerSpecFromInspect', () => {
  it('records what it takes to create the container again', () => {
    const info = anInspect();

    const spec = containerSpecFromInspect(info);

    expect(spec).toEqual({
      name: 'app',
      image: 'shop/app:2.1',
      imageId: 'sha256:1111',
      cmd: ['serve'],
      env: [
        { name: 'PATH', value: '/bin', secret: false },
        { name: 'APP_MODE', value: 'prod', secret: false },
        { name: 'DB_PASSWORD', secret: true },
      ],
      mounts: [
        { type: 'volume', source: 'app-data', destination: '/data', readOnly: false },
        { type: 'bind', source: '/etc/app', destination: '/config', readOnly: true },
      ],
      ports: [{ containerPort: '8080/tcp', hostIp: '127.0.0.1', hostPort: '18080' }],
      networkMode: 'backend',
      networks: [{ name: 'backend', aliases: ['api'], ipv4Address: '10.9.0.10' }],
      restartPolicy: { name: 'unless-stopped', maximumRetryCount: 0 },
      labels: { role: 'app' },
      links: [],
    });
  });

  it('never records a secret value, including names the config gives', () => {
    const info = anInspect({ Config: { Env: ['DB_PASSWORD=hunter2', 'DB_PASS=letmein'] } });

    const spec = containerSpecFromInspect(info, new Set(['DB_PASS']));

    const json = JSON.stringify(spec);
    expect(json).not.toContain('hunter2');
    expect(json).not.toContain('letmein');
    expect(spec.env).toEqual([
      { name: 'DB_PASSWORD', secret: true },
      { name: 'DB_PASS', secret: true },
    ]);
  });

  it('keeps a hostname only when it is not the short id, and never with a shared namespace', () => {
    const own = anInspect({ Config: { Hostname: 'shop-app' } });
    const generated = anInspect();
    const onHost = anInspect({ Config: { Hostname: 'old-host' }, HostConfig: { NetworkMode: 'host' } });

    const specs = [own, generated, onHost].map((i) => containerSpecFromInspect(i));

    expect(specs.map((s) => s.hostname)).toEqual(['shop-app', undefined, undefined]);
  });

  it('drops the automatic aliases and lists the network-mode network first', () => {
    const info = anInspect({
      Networks: {
        audit: { Aliases: [ID.slice(0, 12), 'app'], IPAMConfig: null },
        backend: { Aliases: [ID.slice(0, 12), 'api', 'shop-api'], IPAMConfig: {} },
        bridge: { Aliases: null, IPAMConfig: null },
      },
      HostConfig: { NetworkMode: 'backend' },
    });

    const spec = containerSpecFromInspect(info);

    expect(spec.networks).toEqual([
      { name: 'backend', aliases: ['api', 'shop-api'] },
      { name: 'audit', aliases: [] },
      { name: 'bridge', aliases: [] },
    ]);
  });

  it('records the healthcheck, user, working dir, entrypoint, links and --tmpfs mounts', () => {
    const info = anInspect({
      Config: {
        Entrypoint: ['/entry.sh'],
        User: '1000:1000',
        WorkingDir: '/srv',
        Healthcheck: { Test: ['CMD-SHELL', 'wget -q -O- localhost:8080'], Interval: 1e9, Retries: 3 },
      },
      HostConfig: { Links: ['/db:/app/database'], Tmpfs: { '/run': 'rw,size=64m', '/ro': 'ro' } },
      Mounts: [],
    });

    const spec = containerSpecFromInspect(info);

    expect(spec.entrypoint).toEqual(['/entry.sh']);
    expect(spec.user).toBe('1000:1000');
    expect(spec.workingDir).toBe('/srv');
    expect(spec.healthcheck).toEqual({
      test: ['CMD-SHELL', 'wget -q -O- localhost:8080'],
      interval: 1e9,
      retries: 3,
    });
    expect(spec.links).toEqual(['db:database']);
    expect(spec.mounts).toEqual([
      { type: 'tmpfs', source: '', destination: '/run', readOnly: false },
      { type: 'tmpfs', source: '', destination: '/ro', readOnly: true },
    ]);
  });

  it('reads an empty restart policy and missing port bindings as none', () => {
    const info = anInspect({ HostConfig: { RestartPolicy: { Name: '' }, PortBindings: { '80/tcp': null } } });

    const spec = containerSpecFromInspect(info);

    expect(spec.restartPolicy).toEqual({ name: 'no', maximumRetryCount: 0 });
    expect(spec.ports).toEqual([]);
  });
});

describe('linkSpec', () => {
  it('turns the engine form into the --link form', () => {
    expect(linkSpec('/db:/web/db')).toBe('db:db');
    expect(linkSpec('/mysql-prod:/web/mysql')).toBe('mysql-prod:mysql');
    expect(linkSpec('db:alias')).toBe('db:alias');
  });
});

describe('containerCreatePlan', () => {
  it('creates on the network-mode network and connects the others before start', () => {
    const spec = containerSpecFromInspect(
      anInspect({
        Networks: {
          backend: { Aliases: ['api'], IPAMConfig: { IPv4Address: '10.9.0.10' } },
          audit: { Aliases: ['app-audit'], IPAMConfig: null },
        },
      }),
    );

    const { options, connect } = containerCreatePlan(spec, ['APP_MODE=prod', 'DB_PASSWORD=hunter2']);

    expect(options.HostConfig?.NetworkMode).toBe('backend');
    expect(options.NetworkingConfig).toEqual({
      EndpointsConfig: { backend: { Aliases: ['api'], IPAMConfig: { IPv4Address: '10.9.0.10' } } },
    });
    expect(connect).toEqual([{ network: 'audit', endpoint: { Aliases: ['app-audit'] } }]);
  });

  it('passes the image, env, ports, mounts, restart policy, labels and the rest', () => {
    const spec = containerSpecFromInspect(
      anInspect({
        Config: {
          Hostname: 'shop-app',
          User: 'app',
          WorkingDir: '/srv',
          Healthcheck: { Test: ['CMD', 'true'], Interval: 2e9 },
        },
        HostConfig: { Links: ['/db:/app/db'] },
      }),
    );

    const { options } = containerCreatePlan(spec, ['A=1']);

    expect(options).toMatchObject({
      name: 'app',
      Image: 'shop/app:2.1',
      Env: ['A=1'],
      Cmd: ['serve'],
      Labels: { role: 'app' },
      User: 'app',
      WorkingDir: '/srv',
      Hostname: 'shop-app',
      ExposedPorts: { '8080/tcp': {} },
      Healthcheck: { Test: ['CMD', 'true'], Interval: 2e9 },
      HostConfig: {
        PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }] },
        RestartPolicy: { Name: 'unless-stopped' },
        Links: ['db:db'],
        Mounts: [
          { Type: 'volume', Source: 'app-data', Target: '/data', ReadOnly: false },
          { Type: 'bind', Source: '/etc/app', Target: '/config', ReadOnly: true },
        ],
      },
    });
    expect(options.Entrypoint).toBeUndefined();
  });

  it('keeps the retry count only with on-failure, which alone accepts one', () => {
    const spec = containerSpecFromInspect(
      anInspect({ HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 } } }),
    );

    const { options } = containerCreatePlan(spec, []);

    expect(options.HostConfig?.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 5 });
  });

  it('attaches no networks and sets no hostname when the namespace is shared', () => {
    const spec = {
      ...containerSpecFromInspect(anInspect()),
      networkMode: 'container:db',
      hostname: 'ignored',
    };

    const { options, connect } = containerCreatePlan(spec, []);

    expect(options.NetworkingConfig).toBeUndefined();
    expect(options.Hostname).toBeUndefined();
    expect(connect).toEqual([]);
  });

  it('puts the default bridge in the create call for the default network mode', () => {
    const spec = containerSpecFromInspect(
      anInspect({ HostConfig: { NetworkMode: 'default' }, Networks: { bridge: { Aliases: null } } }),
    );

    const { options, connect } = containerCreatePlan(spec, []);

    expect(options.NetworkingConfig).toEqual({ EndpointsConfig: { bridge: {} } });
    expect(connect).toEqual([]);
  });
});

describe('networkSpecFromInspect / volumeSpecFromInspect', () => {
  it('records driver, IPAM, options and labels', () => {
    const info = {
      Name: 'backend',
      Driver: 'bridge',
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] },
      Options: { 'com.docker.network.bridge.enable_icc': 'true' },
      Labels: { tier: 'db' },
      Internal: true,
      Attachable: false,
      EnableIPv6: false,
    } as unknown as Docker.NetworkInspectInfo;

    expect(networkSpecFromInspect(info)).toEqual({
      name: 'backend',
      driver: 'bridge',
      ipam: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }],
      options: { 'com.docker.network.bridge.enable_icc': 'true' },
      labels: { tier: 'db' },
      internal: true,
      attachable: false,
      enableIPv6: false,
    });
  });

  it('reads a volume with no options or labels as empty ones', () => {
    const info = {
      Name: 'app-data',
      Driver: 'local',
      Labels: null,
      Options: null,
    } as unknown as Docker.VolumeInspectInfo;

    expect(volumeSpecFromInspect(info)).toEqual({
      name: 'app-data',
      driver: 'local',
      labels: {},
      options: {},
    });
  });
});
