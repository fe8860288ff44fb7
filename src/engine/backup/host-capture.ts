// Captures what a bare-host restore needs to re-create: containers, their networks and volumes.
import type { Asset } from '../../domain/assets.js';
import {
  BUILTIN_NETWORKS,
  type ContainerSpec,
  HOST_SPEC_FORMAT,
  type HostSpec,
  type NetworkSpec,
  type VolumeSpec,
} from '../../domain/host-spec.js';
import type { EngineDeps } from '../deps.js';

/** Env names the config marks as secret (every database's `passwordEnv`). */
export function configuredSecretNames(deps: Pick<EngineDeps, 'config'>): Set<string> {
  return new Set(deps.config.databases.flatMap((d) => (d.passwordEnv ? [d.passwordEnv] : [])));
}

/**
 * The spec of every database container in the set, every container that mounts a volume in
 * the set, and every configured service; the user networks they are attached to; every named
 * volume they mount. Secret env values are dropped by the runtime as it reads them.
 */
export async function captureHostSpec(
  deps: Pick<EngineDeps, 'config' | 'runtime' | 'clock'>,
  assets: Asset[],
): Promise<HostSpec> {
  const secrets = configuredSecretNames(deps);
  for (const a of assets) if (a.kind === 'database') secrets.add(a.passwordEnv);
  const volumes = new Set(assets.flatMap((a) => (a.kind === 'volume' ? [a.volume] : [])));
  const names = new Set<string>();
  for (const a of assets) if (a.kind === 'database') names.add(a.container);
  for (const c of await deps.runtime.listContainers()) {
    if (c.mounts.some((m) => m.volume && volumes.has(m.volume))) names.add(c.name);
  }
  for (const s of deps.config.services) names.add(s.container);

  const containers: ContainerSpec[] = [];
  for (const name of [...names].sort()) {
    const spec = await deps.runtime.containerSpec(name, secrets);
    if (spec) containers.push(spec);
  }
  const networkNames = new Set<string>();
  const volumeNames = new Set<string>(volumes);
  for (const c of containers) {
    for (const n of c.networks) if (!BUILTIN_NETWORKS.has(n.name)) networkNames.add(n.name);
    for (const m of c.mounts) if (m.type === 'volume' && m.source) volumeNames.add(m.source);
  }
  const networks: NetworkSpec[] = [];
  for (const n of [...networkNames].sort()) {
    const spec = await deps.runtime.networkSpec(n);
    if (spec) networks.push(spec);
  }
  const volumeSpecs: VolumeSpec[] = [];
  for (const v of [...volumeNames].sort()) {
    const spec = await deps.runtime.volumeSpec(v);
    if (spec) volumeSpecs.push(spec);
  }
  return {
    format: HOST_SPEC_FORMAT,
    capturedAt: deps.clock.now().toISOString(),
    containers,
    networks,
    volumes: volumeSpecs,
  };
}
