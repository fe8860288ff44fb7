// The assess stage: which set each asset is restored from, from where, and what will be stopped or created.
import type { Asset } from '../../domain/assets.js';
import { formatSpan } from '../../domain/duration.js';
import type { Inventory } from '../../domain/inventory.js';
import { setDirectory } from '../../domain/layout.js';
import {
  type HostRebuildPlan,
  type PlannedAsset,
  planFingerprint,
  type RestorePlan,
  type RestoreScope,
  scopeLabel,
} from '../../domain/restore-plan.js';
import { describeError, ErrorCode, externalError, userError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ContainerInfo } from '../../ports/container-runtime.js';
import type { ArtifactRecord, SetRecord } from '../../ports/state-store.js';
import { targetsWith } from '../catalog/artifact-read.js';
import { targetNamed } from '../catalog/rebuild.js';
import type { EngineDeps } from '../deps.js';
import { pointInTimeFor, pointInTimeNote, withoutPointInTime } from '../pitr/pitr-restore.js';
import { loadHostSpec, planHostRebuild } from './bare-host.js';

/** What an asset name stands for when planning: live in the inventory, or known only from backups. */
interface Candidate {
  name: string;
  kind: 'database' | 'volume';
  asset: Asset | undefined;
  /**
   * A database known only from the catalog (its container and labels are gone): planned only
   * when a bare-host restore can re-create its container from the set's host spec.
   */
  onlyIfRebuilt?: boolean;
}

/**
 * Which assets a scope covers. `db-only`: every protected database. `full`: every protected
 * asset, plus volumes that have backups but no longer exist (the disaster may have taken
 * them), except a database's data volume: the database comes back from its dump, never from a
 * tar of its data directory. One name: that asset, live or known from the catalog.
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
  const known = new Set(inventory.assets.map((a) => a.name));
  const goneDatabases = [...fromCatalog]
    .filter(([name, art]) => art.kind !== 'volume-tar' && !known.has(name))
    .map(([name]): Candidate => ({ name, kind: 'database', asset: undefined, onlyIfRebuilt: true }));
  if (scope === 'db-only')
    return [
      ...live
        .filter((a) => a.kind === 'database')
        .map((a): Candidate => ({ name: a.name, kind: 'database', asset: a })),
      ...goneDatabases,
    ];
  if (scope === 'full') {
    const out: Candidate[] = live
      .filter((a) => a.kind !== 'volume' || a.dataOf === undefined)
      .map((a) => ({ name: a.name, kind: a.kind, asset: a }));
    const dataVolumes = new Set(
      inventory.assets.flatMap((a) => (a.kind === 'volume' && a.dataOf ? [a.name] : [])),
    );
    for (const [name, art] of fromCatalog) {
      if (art.meta.dataOf !== undefined || dataVolumes.has(name)) continue;
      if (art.kind === 'volume-tar' && !volumes.has(name) && !out.some((c) => c.name === name))
        out.push({ name, kind: 'volume', asset: undefined });
    }
    return [...out, ...goneDatabases];
  }
  const name = scope.slice('asset:'.length);
  const asset = inventory.assets.find((a) => a.name === name);
  if (asset) return [{ name, kind: asset.kind, asset }];
  const art = fromCatalog.get(name);
  if (art)
    return [
      art.kind === 'volume-tar'
        ? { name, kind: 'volume', asset: undefined }
        : { name, kind: 'database', asset: undefined, onlyIfRebuilt: false },
    ];
  const allowed = [...new Set([...live.map((a) => a.name), ...fromCatalog.keys()])].sort();
  throw userError(
    ErrorCode.UNKNOWN_ASSET,
    `unknown asset '${name}'; allowed: full, db-only${allowed.length ? `, ${allowed.join(', ')}` : ''}`,
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
    /** `--source`: read every artifact from this target. */
    source?: string | undefined;
    /** Values from `--env-file`, for secrets of re-created containers. */
    envFile?: Record<string, string>;
    /** `--to`: restore each database to this point in time (base dump + archived logs). */
    to?: Date | undefined;
  },
): Promise<RestorePlan> {
  const now = deps.clock.now();
  const source = input.source ? targetNamed(deps, input.source) : undefined;
  const where = new ReadSource(deps, source);
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
  if (input.scope === 'full') {
    for (const a of input.inventory.assets)
      if (a.kind === 'volume' && a.dataOf !== undefined && a.archiveStopped)
        notes.push(
          `${a.name}: the data directory of ${a.dataOf}, which is restored from its dump, not from a tar (\`restore ${a.name}\` puts back its archive)`,
        );
  }
  const missingDatabases = new Map<string, { container: string | undefined; optional: boolean }>();
  for (const c of candidates) {
    // `db-only --to`: a database without point-in-time recovery is left as it is, said so.
    const without = input.to && input.scope === 'db-only' ? withoutPointInTime(c) : undefined;
    if (without) {
      notes.push(without);
      continue;
    }
    // `--to`: the base is the newest dump its archived logs can carry to that time.
    const pit = input.to ? pointInTimeFor(deps, c, input.to, input.sets) : undefined;
    const set =
      pit?.set ??
      fromSet ??
      input.sets.find((s) => s.artifacts.some((a) => a.asset === c.name && a.status === 'complete'));
    const artifact = set?.artifacts.find((a) => a.asset === c.name && a.status === 'complete');
    if (!set || !artifact) {
      problems.push(
        fromSet ? `set ${fromSet.id} has no backup of ${c.name}` : `${c.name} has no complete backup`,
      );
      continue;
    }
    const read = await where.pick(set, artifact);
    if ('problem' in read) {
      problems.push(`${c.name}: ${read.problem}`);
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
      readFrom: read.target,
      ...(read.reason ? { readReason: read.reason } : {}),
      lossWindowMs: now.getTime() - set.createdAt.getTime(),
      rpoMs: policy?.rpoMs,
      rtoMs: policy?.rtoMs,
      ...(pit ? { pointInTime: pit.pointInTime } : {}),
    };
    if (pit) planned.lossWindowMs = pit.lossWindowMs;
    if (c.kind === 'database') {
      const db = c.asset?.kind === 'database' ? c.asset : undefined;
      const container = db?.container ?? artifact.meta.container;
      const live = input.containers.find((x) => x.name === container);
      if (!container || !live) {
        // Re-created from the host spec below, if the set recorded one; else a problem then.
        missingDatabases.set(c.name, { container, optional: c.onlyIfRebuilt === true });
      } else if (!live.running) {
        notes.push(`container ${container} is ${live.state}: it will be started for the restore`);
      }
      if (live && c.onlyIfRebuilt) continue; // its container exists but is no longer protected
      Object.assign(planned, {
        container,
        engine: db?.engine ?? artifact.meta.engine,
        user: db?.user ?? artifact.meta.user,
        passwordEnv: db?.passwordEnv ?? artifact.meta.passwordEnv,
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
  if (input.to && !assets.length && !problems.length)
    throw userError(
      ErrorCode.NOTHING_TO_BACK_UP,
      `nothing to restore to a point in time: ${notes.join('; ') || 'no database with archived binary logs or WAL'}`,
    );
  const rebuild = problems.length
    ? undefined
    : await planRebuild(deps, input, assets, missingDatabases, where, problems, notes);
  if (problems.length) {
    throw externalError(ErrorCode.NO_USABLE_SET, `cannot plan the restore: ${problems.join('; ')}`, {
      step: 'assess',
    });
  }
  for (const a of assets) if (a.readReason) notes.push(`${a.asset}: ${a.readReason}`);
  for (const a of assets) if (a.pointInTime) notes.push(pointInTimeNote(a) as string);

  const stopContainers = containersToStop(deps, input.scope, assets, input.containers);
  const rtos = assets.map((a) => a.rtoMs).filter((x): x is number => x !== undefined);
  const base = {
    scope: scopeLabel(input.scope),
    from: input.from,
    assets,
    stopContainers,
    rtoMs: rtos.length ? Math.min(...rtos) : undefined,
    expectedMs: expectedDuration(deps, scopeLabel(input.scope)),
    diskFreeBytes: await deps.targets[0]?.freeBytes?.(),
    notes,
    ...(rebuild ? { rebuild } : {}),
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

/** How many past restores of a scope the expected duration is the median of. */
const PAST_RESTORES = 20;

function expectedDuration(deps: EngineDeps, scope: string): number | undefined {
  const past = deps.store.pastDurations('restore', scope, PAST_RESTORES).sort((a, b) => a - b);
  return past.length ? past[Math.floor(past.length / 2)] : undefined;
}

/**
 * Databases whose containers are gone: re-created from the host spec of the newest set in the
 * plan, with the networks and volumes they need (and, for `full`, every other recorded
 * container that is missing). Without a host spec they are a problem, as before; a database
 * known only from the catalog is then left out with a note.
 */
async function planRebuild(
  deps: EngineDeps,
  input: { scope: RestoreScope; sets: SetRecord[]; envFile?: Record<string, string> },
  assets: PlannedAsset[],
  missingDatabases: Map<string, { container: string | undefined; optional: boolean }>,
  where: ReadSource,
  problems: string[],
  notes: string[],
): Promise<HostRebuildPlan | undefined> {
  const full = input.scope === 'full';
  const planSets = input.sets.filter((s) => assets.some((a) => a.setId === s.id));
  const newest = planSets.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
  const loaded = newest ? await loadHostSpec(newest, where.order()) : undefined;
  const recorded = new Set(loaded?.spec.containers.map((c) => c.name) ?? []);
  const drop = new Set<string>();
  for (const [name, m] of missingDatabases) {
    if (m.container && recorded.has(m.container)) continue;
    if (m.optional) {
      drop.add(name);
      notes.push(
        `${name}: its container ${m.container ?? '(unknown)'} is gone and no host spec records it; not restored`,
      );
    } else {
      problems.push(
        `${name}: database container ${m.container ?? '(unknown)'} does not exist${loaded ? '' : ' and the set records no host spec to re-create it'}; recreate it (e.g. docker compose up -d ${m.container ?? ''}) and run the restore again`,
      );
    }
  }
  for (let i = assets.length - 1; i >= 0; i--)
    if (drop.has((assets[i] as PlannedAsset).asset)) assets.splice(i, 1);
  if (!loaded || problems.length) return undefined;
  const databases = new Set(
    [...missingDatabases]
      .filter(([name]) => !drop.has(name))
      .flatMap(([, m]) => (m.container ? [m.container] : [])),
  );
  const { plan, problems: more } = await planHostRebuild(deps, {
    spec: loaded.spec,
    specSet: newest?.id as string,
    databases,
    full,
    restoredVolumes: new Set(assets.filter((a) => a.kind === 'volume').map((a) => a.asset)),
    env: { ...deps.env, ...input.envFile },
  });
  problems.push(...more);
  const creates = plan.networks.length + plan.volumes.length + plan.databases.length + plan.containers.length;
  if (!creates) return undefined;
  const list = (label: string, names: string[]) => (names.length ? [`${label} ${names.join(', ')}`] : []);
  notes.push(
    `bare-host recovery from the host recorded in ${plan.specSet} (${loaded.target}): will create ${[
      ...list('network(s)', plan.networks),
      ...list('empty volume(s)', plan.volumes),
      ...list('database container(s)', plan.databases),
      ...list('container(s)', plan.containers),
    ].join('; ')}`,
  );
  return plan;
}

/**
 * Where each artifact is read from: `--source`, or the first target (in configured order)
 * with a confirmed copy that it actually lists; the reason an earlier target was passed over
 * is kept for the run's timeline ("local has no copy; reading from s3").
 */
class ReadSource {
  private listings = new Map<string, Promise<Set<string>>>();

  constructor(
    private readonly deps: EngineDeps,
    private readonly source: BackupTarget | undefined,
  ) {}

  /** Targets in the order they are tried. */
  order(): BackupTarget[] {
    return this.source ? [this.source] : this.deps.targets;
  }

  async pick(
    set: SetRecord,
    artifact: ArtifactRecord,
  ): Promise<{ target: string; reason: string | undefined } | { problem: string }> {
    const dir = setDirectory(set.id, set.createdAt);
    const key = `${dir}/${artifact.file}`;
    const confirmed = new Set(targetsWith(this.deps, artifact).map((t) => t.name));
    const passed: string[] = [];
    for (const t of this.order()) {
      if (!this.source && !confirmed.has(t.name)) {
        const failed = artifact.locations.some((l) => l.target === t.name && l.status === 'failed');
        passed.push(failed ? `${t.name}'s copy failed verification` : `${t.name} has no confirmed copy`);
        continue;
      }
      const memo = `${t.name}\u0000${dir}`;
      if (!this.listings.has(memo))
        this.listings.set(
          memo,
          t.list(`${dir}/`).then((k) => new Set(k)),
        );
      try {
        if (!(await this.listings.get(memo))?.has(key)) {
          passed.push(`${t.name} has no copy of ${artifact.file}`);
          continue;
        }
      } catch (err) {
        passed.push(`${t.name} unreachable (${describeError(err)})`);
        continue;
      }
      const reason = passed.length ? `${passed.join('; ')}; reading from ${t.name}` : undefined;
      return { target: t.name, reason };
    }
    return {
      problem: `no target can serve ${set.id}/${artifact.file}${passed.length ? ` (${passed.join('; ')})` : ''}`,
    };
  }
}
