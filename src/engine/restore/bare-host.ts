// Bare-host recovery: what of a set's recorded host is missing, and re-creating it in order.
import { readFile } from 'node:fs/promises';
import { parseEnv } from 'node:util';
import type { ContainerSpec, HostSpec, NetworkSpec, VolumeSpec } from '../../domain/host-spec.js';
import { setDirectory } from '../../domain/layout.js';
import type { HostRebuildPlan } from '../../domain/restore-plan.js';
import { describeError, ErrorCode, externalError, userError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { SetRecord } from '../../ports/state-store.js';
import { readManifest } from '../catalog/manifest.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';

/** The host a set recorded in its manifest, read from the first of `targets` that serves it. */
export async function loadHostSpec(
  set: SetRecord,
  targets: BackupTarget[],
): Promise<{ spec: HostSpec; target: string } | undefined> {
  const dir = setDirectory(set.id, set.createdAt);
  for (const t of targets) {
    try {
      const manifest = await readManifest(t, dir);
      if (!manifest.hostSpec) return undefined; // a set written before host specs existed
      return { spec: manifest.hostSpec, target: t.name };
    } catch {
      // this target cannot serve it: try the next
    }
  }
  return undefined;
}

/** `KEY=value` lines of an `--env-file` (dotenv syntax); the error names the file. */
export async function readEnvFile(path: string | undefined): Promise<Record<string, string>> {
  if (!path) return {};
  try {
    return parseEnv(await readFile(path, 'utf8')) as Record<string, string>;
  } catch (err) {
    throw userError(ErrorCode.USAGE, `--env-file ${path}: ${(err as Error).message}`);
  }
}

/**
 * Which recorded networks, volumes and containers do not exist now, and whether each can be
 * made: its image present (or pullable) and every secret env value it needs at hand.
 * `databases` are the containers of the databases being restored; `others` are re-created
 * only for a full restore.
 */
export async function planHostRebuild(
  deps: EngineDeps,
  input: {
    spec: HostSpec;
    specSet: string;
    databases: Set<string>;
    full: boolean;
    /** Volumes restored from the set: re-created by the volume step with their data. */
    restoredVolumes: Set<string>;
    env: Record<string, string | undefined>;
  },
): Promise<{ plan: HostRebuildPlan; problems: string[] }> {
  const [containers, volumes, networks] = await Promise.all([
    deps.runtime.listContainers(),
    deps.runtime.listVolumes(),
    deps.runtime.listNetworks(),
  ]);
  const liveContainers = new Set(containers.map((c) => c.name));
  const liveVolumes = new Set(volumes.map((v) => v.name));
  const liveNetworks = new Set(networks);
  const wanted = input.spec.containers.filter(
    (c) => !liveContainers.has(c.name) && (input.databases.has(c.name) || input.full),
  );
  const needNetworks = new Set(wanted.flatMap((c) => c.networks.map((n) => n.name)));
  const needVolumes = new Set(
    wanted.flatMap((c) => c.mounts.filter((m) => m.type === 'volume').map((m) => m.source)),
  );
  const plan: HostRebuildPlan = {
    specSet: input.specSet,
    networks: input.spec.networks
      .filter((n) => needNetworks.has(n.name) && !liveNetworks.has(n.name))
      .map((n) => n.name),
    volumes: input.spec.volumes
      .filter(
        (v) => needVolumes.has(v.name) && !liveVolumes.has(v.name) && !input.restoredVolumes.has(v.name),
      )
      .map((v) => v.name),
    databases: wanted.filter((c) => input.databases.has(c.name)).map((c) => c.name),
    containers: creationOrder(wanted.filter((c) => !input.databases.has(c.name))).map((c) => c.name),
    secrets: [],
  };
  const problems: string[] = [];
  const images = new Map<string, string[]>();
  for (const c of wanted) images.set(c.image, [...(images.get(c.image) ?? []), c.name]);
  const missingImages: string[] = [];
  for (const [image, users] of images) {
    if (await deps.runtime.imagePresent(image)) continue;
    try {
      await deps.runtime.pullImage(image);
    } catch (err) {
      missingImages.push(`${image} (for ${users.join(', ')}: ${describeError(err)})`);
    }
  }
  if (missingImages.length)
    problems.push(
      `image(s) not present and not pullable: ${missingImages.join('; ')}. Provide them with \`docker load -i <file>\` or \`docker pull <image>\`, then run the restore again`,
    );
  const missingSecrets: string[] = [];
  for (const c of wanted) {
    for (const e of c.env.filter((x) => x.secret)) {
      plan.secrets.push(`${c.name}:${e.name}`);
      if (input.env[e.name] === undefined) missingSecrets.push(`${e.name} (for ${c.name})`);
    }
  }
  if (missingSecrets.length)
    problems.push(
      `secret value(s) needed to re-create containers are not set: ${missingSecrets.join(', ')}. Set them in drbot's environment under the same name, or pass --env-file FILE`,
    );
  return { plan, problems };
}

/**
 * Containers ordered so that each comes after what it depends on: legacy links, a
 * `container:<name>` network mode, and Compose's `depends_on` label. Ties keep name order.
 */
export function creationOrder(specs: ContainerSpec[]): ContainerSpec[] {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byService = new Map<string, string>();
  for (const s of specs) {
    const svc = s.labels['com.docker.compose.service'];
    if (svc) byService.set(svc, s.name);
  }
  const dependsOn = (s: ContainerSpec): string[] => {
    const out = s.links.map((l) => l.split(':')[0] as string);
    if (s.networkMode.startsWith('container:')) out.push(s.networkMode.slice('container:'.length));
    for (const d of (s.labels['com.docker.compose.depends_on'] ?? '').split(',')) {
      const svc = d.split(':')[0];
      if (svc && byService.has(svc)) out.push(byService.get(svc) as string);
    }
    return out.filter((n) => byName.has(n) && n !== s.name);
  };
  const done = new Set<string>();
  const out: ContainerSpec[] = [];
  const visit = (s: ContainerSpec, path: Set<string>) => {
    if (done.has(s.name) || path.has(s.name)) return; // a cycle: keep name order
    path.add(s.name);
    for (const d of dependsOn(s).sort()) visit(byName.get(d) as ContainerSpec, path);
    done.add(s.name);
    out.push(s);
  };
  for (const s of [...specs].sort((a, b) => a.name.localeCompare(b.name))) visit(s, new Set());
  return out;
}

/** The env a re-created container gets: recorded values, secrets from drbot's env or the env file. */
function envFor(spec: ContainerSpec, env: Record<string, string | undefined>): string[] {
  return spec.env.map((e) => {
    const value = e.secret ? env[e.name] : e.value;
    if (value === undefined)
      throw externalError(ErrorCode.RESTORE_FAILED, `${e.name} for ${spec.name} is not set`, {
        step: 'restore',
      });
    return `${e.name}=${value}`;
  });
}

/**
 * Re-creates what the plan lists, in order: networks, then volumes with their labels. The
 * containers come later (see createContainers), after the volume data is back.
 */
export async function createInfrastructure(
  deps: EngineDeps,
  ctx: RunContext,
  spec: HostSpec,
  plan: HostRebuildPlan,
): Promise<void> {
  for (const name of plan.networks) {
    await deps.runtime.createNetwork(spec.networks.find((n) => n.name === name) as NetworkSpec);
    ctx.info(`created network ${name}`);
  }
  for (const name of plan.volumes) {
    const v = spec.volumes.find((x) => x.name === name) as VolumeSpec;
    await deps.runtime.createVolume(v.name, v.labels, { driver: v.driver, driverOpts: v.options });
    ctx.info(`created volume ${name} (empty: a database's data directory is rebuilt from its dump)`);
  }
}

/** Creates and starts recorded containers, in the given order. */
export async function createContainers(
  deps: EngineDeps,
  ctx: RunContext,
  spec: HostSpec,
  names: string[],
  env: Record<string, string | undefined>,
): Promise<void> {
  for (const name of names) {
    const c = spec.containers.find((x) => x.name === name) as ContainerSpec;
    await deps.runtime.createContainer(c, envFor(c, env));
    await deps.runtime.startContainer(name);
    ctx.info(`re-created and started ${name} (${c.image})`);
  }
}
