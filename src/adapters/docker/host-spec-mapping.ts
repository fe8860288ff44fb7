// Docker inspect answers as recorded host specs, and recorded specs as Docker create options.
import type Docker from 'dockerode';
import {
  type ContainerSpec,
  type HealthcheckSpec,
  type MountSpec,
  type NetworkAttachment,
  type NetworkSpec,
  type PortBinding,
  recordEnv,
  type VolumeSpec,
} from '../../domain/host-spec.js';

/** Network modes that share another namespace: no networks of their own, no hostname. */
function sharesNetworkNamespace(mode: string): boolean {
  return mode === 'host' || mode === 'none' || mode.startsWith('container:');
}

/** An inspect argv field (array, legacy string or null) as an argv, or undefined when unset. */
function argv(value: string | string[] | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}

/** `/db:/web/db` (how inspect reports `--link db:db`) as `db:db`, the form `--link` takes. */
export function linkSpec(link: string): string {
  const [target = '', alias = target] = link.split(':');
  const name = target.replace(/^\//, '');
  return `${name}:${alias.split('/').pop() || name}`;
}

/**
 * A container's inspect answer as a recorded spec (DESIGN §9). Inspect merges the image's
 * defaults (env, cmd, labels, healthcheck) into the container's config; they are recorded as
 * they are, so the container comes back the same even if a later build under its tag changes
 * them.
 */
export function containerSpecFromInspect(
  info: Docker.ContainerInspectInfo,
  secretNames: ReadonlySet<string> = new Set(),
): ContainerSpec {
  const name = info.Name.replace(/^\//, '');
  const config = info.Config;
  const host = info.HostConfig ?? {};
  const networkMode = host.NetworkMode || 'default';
  const shortId = info.Id.slice(0, 12);

  const mounts: MountSpec[] = [];
  for (const m of info.Mounts ?? []) {
    if (m.Type !== 'volume' && m.Type !== 'bind' && m.Type !== 'tmpfs') continue;
    const source = m.Type === 'volume' ? (m.Name ?? m.Source) : m.Type === 'bind' ? m.Source : '';
    mounts.push({ type: m.Type, source, destination: m.Destination, readOnly: !m.RW });
  }
  // `--tmpfs` mounts live in HostConfig.Tmpfs and are not listed among Mounts.
  for (const [destination, opts] of Object.entries(host.Tmpfs ?? {})) {
    if (mounts.some((m) => m.destination === destination)) continue;
    mounts.push({ type: 'tmpfs', source: '', destination, readOnly: /(^|,)ro(,|$)/.test(opts) });
  }

  const ports: PortBinding[] = [];
  const bindings = (host.PortBindings ?? {}) as Record<string, Docker.PortBinding[] | null>;
  for (const containerPort of Object.keys(bindings).sort()) {
    for (const b of bindings[containerPort] ?? []) {
      ports.push({ containerPort, hostIp: b.HostIp ?? '', hostPort: b.HostPort ?? '' });
    }
  }

  const networks: NetworkAttachment[] = Object.entries(info.NetworkSettings?.Networks ?? {})
    .map(([net, ep]) => {
      // The engine adds the short id as an alias on every user network, and the name always
      // resolves there: neither is the user's, and both come back on their own.
      const aliases = ((ep.Aliases ?? []) as string[]).filter(
        (a) => a !== shortId && a !== info.Id && a !== name,
      );
      const ip = (ep.IPAMConfig as Docker.IPAMConfig | null | undefined)?.IPv4Address;
      return { name: net, aliases, ...(ip ? { ipv4Address: ip } : {}) };
    })
    // The network the container was created on first: the one a re-creation creates it on.
    .sort(
      (a, b) =>
        Number(b.name === networkMode) - Number(a.name === networkMode) || a.name.localeCompare(b.name),
    );

  const hc = config.Healthcheck;
  const healthcheck: HealthcheckSpec | undefined = hc?.Test?.length
    ? {
        test: hc.Test,
        ...(hc.Interval ? { interval: hc.Interval } : {}),
        ...(hc.Timeout ? { timeout: hc.Timeout } : {}),
        ...(hc.Retries ? { retries: hc.Retries } : {}),
        ...(hc.StartPeriod ? { startPeriod: hc.StartPeriod } : {}),
      }
    : undefined;
  const entrypoint = argv(config.Entrypoint);
  const cmd = argv(config.Cmd);
  // The engine sets the hostname to the short id unless told otherwise; with a shared network
  // namespace it is the other side's (the old host's, for `host`), never the user's choice.
  const hostname =
    config.Hostname && config.Hostname !== shortId && !sharesNetworkNamespace(networkMode)
      ? config.Hostname
      : undefined;

  return {
    name,
    image: config.Image,
    imageId: info.Image,
    ...(entrypoint ? { entrypoint } : {}),
    ...(cmd ? { cmd } : {}),
    env: recordEnv(config.Env ?? [], secretNames),
    mounts,
    ports,
    networkMode,
    networks,
    restartPolicy: {
      name: host.RestartPolicy?.Name || 'no',
      maximumRetryCount: host.RestartPolicy?.MaximumRetryCount ?? 0,
    },
    labels: config.Labels ?? {},
    ...(healthcheck ? { healthcheck } : {}),
    ...(config.User ? { user: config.User } : {}),
    ...(config.WorkingDir ? { workingDir: config.WorkingDir } : {}),
    ...(hostname ? { hostname } : {}),
    links: ((host.Links ?? []) as string[]).map(linkSpec),
  };
}

/** A network's inspect answer as a recorded spec. */
export function networkSpecFromInspect(info: Docker.NetworkInspectInfo): NetworkSpec {
  return {
    name: info.Name,
    driver: info.Driver,
    ipam: (info.IPAM?.Config ?? []).map((c) => ({
      ...(c.Subnet ? { subnet: c.Subnet } : {}),
      ...(c.Gateway ? { gateway: c.Gateway } : {}),
      ...(c.IPRange ? { ipRange: c.IPRange } : {}),
    })),
    options: info.Options ?? {},
    labels: info.Labels ?? {},
    internal: info.Internal,
    attachable: info.Attachable,
    enableIPv6: info.EnableIPv6,
  };
}

/** A volume's inspect answer as a recorded spec. */
export function volumeSpecFromInspect(info: Docker.VolumeInspectInfo): VolumeSpec {
  return { name: info.Name, driver: info.Driver, labels: info.Labels ?? {}, options: info.Options ?? {} };
}

function endpoint(n: NetworkAttachment): Docker.EndpointSettings {
  return {
    ...(n.aliases.length ? { Aliases: n.aliases } : {}),
    ...(n.ipv4Address ? { IPAMConfig: { IPv4Address: n.ipv4Address } } : {}),
  };
}

/**
 * How to create a recorded container: the create call, then the networks to connect before it
 * starts. The engine takes one network at creation (older engines refuse more), so the one
 * the network mode names goes in the create call and the others are connected after.
 */
export function containerCreatePlan(
  spec: ContainerSpec,
  env: string[],
): {
  options: Docker.ContainerCreateOptions;
  connect: Array<{ network: string; endpoint: Docker.EndpointSettings }>;
} {
  const shared = sharesNetworkNamespace(spec.networkMode);
  const modeNetwork = spec.networkMode === 'default' ? 'bridge' : spec.networkMode;
  const primary = shared ? undefined : spec.networks.find((n) => n.name === modeNetwork);
  const others = shared ? [] : spec.networks.filter((n) => n !== primary);

  const portBindings: Record<string, Docker.PortBinding[]> = {};
  for (const p of spec.ports) {
    const list = portBindings[p.containerPort] ?? [];
    list.push({ HostIp: p.hostIp, HostPort: p.hostPort });
    portBindings[p.containerPort] = list;
  }
  const exposed = Object.fromEntries(Object.keys(portBindings).map((p) => [p, {}]));
  const hc = spec.healthcheck;

  const options: Docker.ContainerCreateOptions = {
    name: spec.name,
    Image: spec.image,
    Env: env,
    Labels: spec.labels,
    ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
    ...(spec.cmd ? { Cmd: spec.cmd } : {}),
    ...(spec.user ? { User: spec.user } : {}),
    ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
    ...(spec.hostname && !shared ? { Hostname: spec.hostname } : {}),
    ...(spec.ports.length ? { ExposedPorts: exposed } : {}),
    ...(hc
      ? {
          Healthcheck: {
            Test: hc.test,
            ...(hc.interval ? { Interval: hc.interval } : {}),
            ...(hc.timeout ? { Timeout: hc.timeout } : {}),
            ...(hc.retries ? { Retries: hc.retries } : {}),
            ...(hc.startPeriod ? { StartPeriod: hc.startPeriod } : {}),
          },
        }
      : {}),
    HostConfig: {
      NetworkMode: spec.networkMode,
      // The Mounts API, not Binds: a missing bind source is an error naming the path, where
      // Binds would quietly create an empty directory (or a directory where a file belongs).
      Mounts: spec.mounts.map((m) => ({
        Type: m.type,
        Source: m.type === 'tmpfs' ? '' : m.source,
        Target: m.destination,
        ReadOnly: m.readOnly,
      })),
      ...(spec.ports.length ? { PortBindings: portBindings } : {}),
      // The engine refuses a retry count with any policy but on-failure.
      RestartPolicy:
        spec.restartPolicy.name === 'on-failure'
          ? { Name: spec.restartPolicy.name, MaximumRetryCount: spec.restartPolicy.maximumRetryCount }
          : { Name: spec.restartPolicy.name },
      ...(spec.links.length ? { Links: spec.links } : {}),
    },
    ...(primary ? { NetworkingConfig: { EndpointsConfig: { [primary.name]: endpoint(primary) } } } : {}),
  };
  return { options, connect: others.map((n) => ({ network: n.name, endpoint: endpoint(n) })) };
}
