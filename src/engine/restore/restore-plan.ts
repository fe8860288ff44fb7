import { statfs } from 'node:fs/promises';
import type { Asset } from '../../domain/assets.js';
import { formatSpan } from '../../domain/duration.js';
import type { Inventory } from '../../domain/inventory.js';
import {
  type PlannedAsset,
  planFingerprint,
  type RestorePlan,
  type RestoreScope,
  scopeLabel,
} from '../../domain/restore-plan.js';
import { ErrorCode, externalError, userError } from '../../errors.js';
import type { ContainerInfo } from '../../ports/container-runtime.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import { targetsWith } from '../catalog/artifact-read.js';
import type { EngineDeps } from '../deps.js';

/** What an asset name stands for when planning: live in the inventory, or known only from backups. */
interface Candidate {
  name: string;
  kind: 'database' | 'volume';
  asset: Asset | undefined;
}

/**
 * Which assets a scope covers. `db-only`: every protected database. `full`: every protected
 * asset, plus volumes that have backups but no longer exist (the disaster may have taken
 * them). One name: that asset, live or known from the catalog.
 */
export function scopeAssets(
  scope: RestoreScope,
  inventory: Inventory,
  sets: SetRecord[],
  volumes: Set<string>,
  only?: string[],
): Candidate[] {
  if (only) return only.flatMap((name) => scopeAssets(`asset:${name}`, inventory, sets, volumes));
  const live = inventory.assets.filter((a) => a.policy.protected);
  const fromCatalog = new Map<string, ArtifactRecord>();
  for (const s of sets)
    for (const a of s.artifacts)
      if (a.status === 'complete' && !fromCatalog.has(a.asset)) fromCatalog.set(a.asset, a);
  if (scope === 'db-only')
    return live
      .filter((a) => a.kind === 'database')
      .map((a) => ({ name: a.name, kind: 'database', asset: a }));
  if (scope === 'full') {
    const out: Candidate[] = live.map((a) => ({ name: a.name, kind: a.kind, asset: a }));
    for (const [name, art] of fromCatalog) {
      if (art.kind === 'volume-tar' && !volumes.has(name) && !out.some((c) => c.name === name))
        out.push({ name, kind: 'volume', asset: undefined });
    }
    return out;
  }
  const name = scope.slice('asset:'.length);
  const asset = inventory.assets.find((a) => a.name === name);
  if (asset) return [{ name, kind: asset.kind, asset }];
  const art = fromCatalog.get(name);
  if (art) return [{ name, kind: art.kind === 'volume-tar' ? 'volume' : 'database', asset: undefined }];
  const known = [...new Set([...live.map((a) => a.name), ...fromCatalog.keys()])].sort();
  throw userError(
    ErrorCode.UNKNOWN_ASSET,
    `unknown asset '${name}'; allowed: full, db-only${known.length ? `, ${known.join(', ')}` : ''}`,
  );
}

/**
 * The assess stage, read-only: the set per asset (newest complete, or `--from`), the target it
 * will be read from, the data-loss window against the RPO, what will be stopped, free disk.
 */
export async function buildPlan(
  deps: EngineDeps,
  input: {
    scope: RestoreScope;
    from: string | undefined;
    inventory: Inventory;
    sets: SetRecord[];
    containers: ContainerInfo[];
    volumes: Set<string>;
    only: string[] | undefined;
  },
): Promise<RestorePlan> {
  const now = deps.clock.now();
  const candidates = scopeAssets(input.scope, input.inventory, input.sets, input.volumes, input.only);
  if (!candidates.length) {
    throw userError(
      ErrorCode.NOTHING_TO_BACK_UP,
      `nothing to restore for ${scopeLabel(input.scope)}: no protected ${input.scope === 'db-only' ? 'databases' : 'assets'}`,
    );
  }
  const fromSet = input.from ? input.sets.find((s) => s.id === input.from) : undefined;
  if (input.from && !fromSet)
    throw userError(ErrorCode.SET_NOT_FOUND, `set ${input.from} is not a complete backup set`);

  const assets: PlannedAsset[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  for (const c of candidates) {
    const set =
      fromSet ??
      input.sets.find((s) => s.artifacts.some((a) => a.asset === c.name && a.status === 'complete'));
    const artifact = set?.artifacts.find((a) => a.asset === c.name && a.status === 'complete');
    if (!set || !artifact) {
      problems.push(
        fromSet ? `set ${fromSet.id} has no backup of ${c.name}` : `${c.name} has no complete backup`,
      );
      continue;
    }
    const readable = targetsWith(deps, artifact);
    if (!readable.length) {
      problems.push(`${c.name}: no target holds a confirmed copy of ${set.id}/${artifact.file}`);
      continue;
    }
    const policy = c.asset?.policy;
    const planned: PlannedAsset = {
      asset: c.name,
      kind: c.kind,
      artifactKind: artifact.kind,
      setId: set.id,
      setTime: set.createdAt.toISOString(),
      file: artifact.file,
      sha256: artifact.sha256 ?? '',
      size: artifact.size ?? 0,
      engineVersion: artifact.engineVersion,
      readFrom: (readable[0] as { name: string }).name,
      lossWindowMs: now.getTime() - set.createdAt.getTime(),
      rpoMs: policy?.rpoMs,
      rtoMs: policy?.rtoMs,
    };
    if (c.kind === 'database') {
      const db = c.asset?.kind === 'database' ? c.asset : undefined;
      const container = db?.container ?? artifact.meta.container;
      const live = input.containers.find((x) => x.name === container);
      if (!container || !live) {
        problems.push(
          `${c.name}: database container ${container ?? '(unknown)'} does not exist; recreate it (e.g. docker compose up -d ${container ?? ''}) and run the restore again`,
        );
        continue;
      }
      if (!live.running)
        notes.push(`container ${container} is ${live.state}: it will be started for the restore`);
      Object.assign(planned, {
        container,
        engine: db?.engine ?? artifact.meta.engine,
        user: db?.user ?? artifact.meta.user,
        passwordEnv: db?.passwordEnv,
      });
    } else {
      const exists = input.volumes.has(c.name);
      if (!exists)
        notes.push(`volume ${c.name} does not exist: it will be recreated with its recorded labels`);
      Object.assign(planned, {
        exists,
        labels: artifact.meta.labels ?? (c.asset?.kind === 'volume' ? c.asset.labels : {}),
      });
    }
    if (planned.rpoMs !== undefined && planned.lossWindowMs > planned.rpoMs) {
      notes.push(
        `${c.name}: the data-loss window ${formatSpan(planned.lossWindowMs)} exceeds its RPO ${formatSpan(planned.rpoMs)}`,
      );
    }
    assets.push(planned);
  }
  if (problems.length) {
    throw externalError(ErrorCode.NO_USABLE_SET, `cannot plan the restore: ${problems.join('; ')}`, {
      step: 'assess',
    });
  }

  const stopContainers = containersToStop(deps, input.scope, assets, input.containers);
  const rtos = assets.map((a) => a.rtoMs).filter((x): x is number => x !== undefined);
  const base = {
    scope: scopeLabel(input.scope),
    from: input.from,
    assets,
    stopContainers,
    rtoMs: rtos.length ? Math.min(...rtos) : undefined,
    expectedMs: expectedDuration(deps, scopeLabel(input.scope)),
    diskFreeBytes: await statfs(deps.config.storage.local.dir).then(
      (s) => s.bavail * s.bsize,
      () => undefined,
    ),
    notes,
  };
  return { ...base, fingerprint: planFingerprint(base) };
}

/**
 * Running containers that use a restored volume, plus (for `full`) the configured services —
 * never the database containers the restore talks to. Configured services first, in their
 * order, then the rest by name.
 */
function containersToStop(
  deps: EngineDeps,
  scope: RestoreScope,
  assets: PlannedAsset[],
  containers: ContainerInfo[],
): string[] {
  const volumes = new Set(assets.filter((a) => a.kind === 'volume').map((a) => a.asset));
  const databases = new Set(assets.filter((a) => a.kind === 'database').map((a) => a.container));
  const wanted = new Set<string>();
  for (const c of containers) {
    if (!c.running || databases.has(c.name)) continue;
    if (c.mounts.some((m) => m.volume && volumes.has(m.volume))) wanted.add(c.name);
  }
  if (scope === 'full') {
    for (const s of deps.config.services) {
      const c = containers.find((x) => x.name === s.container);
      if (c?.running && !databases.has(c.name)) wanted.add(c.name);
    }
  }
  const configured = deps.config.services.map((s) => s.container).filter((n) => wanted.has(n));
  const rest = [...wanted].filter((n) => !configured.includes(n)).sort();
  return [...configured, ...rest];
}

function expectedDuration(deps: EngineDeps, scope: string): number | undefined {
  const past = deps.store
    .listRuns(200)
    .filter(
      (r) =>
        r.kind === 'restore' &&
        r.status === 'succeeded' &&
        r.target.split(' ')[0] === scope &&
        r.startedAt &&
        r.endedAt,
    )
    .map((r) => (r.endedAt as Date).getTime() - (r.startedAt as Date).getTime())
    .sort((a, b) => a - b);
  return past.length ? past[Math.floor(past.length / 2)] : undefined;
}
