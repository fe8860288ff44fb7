// Restore plans: what the assess stage decided, shown for approval and bound to it by a fingerprint.
import { createHash } from 'node:crypto';
import type { ArtifactKind, DbEngine } from './assets.js';

/** What a restore acts on: as in the runbook (`full`, `db-only`) or one asset by name. */
export type RestoreScope = 'full' | 'db-only' | `asset:${string}`;

/** One asset in a restore plan: what will be restored, from where, and what it costs. */
export interface PlannedAsset {
  asset: string;
  kind: 'database' | 'volume';
  artifactKind: ArtifactKind;
  setId: string;
  setTime: string;
  file: string;
  sha256: string;
  size: number;
  engineVersion: string | undefined;
  /** The target it will be read from (`--source`, or the first with a confirmed copy). */
  readFrom: string;
  /** Why not an earlier target, when one was passed over ("local has no copy; …"). */
  readReason?: string;
  /** now − set time: the writes that will be lost. */
  lossWindowMs: number;
  rpoMs: number | undefined;
  rtoMs: number | undefined;
  /** Databases: the live container, engine and user. */
  container?: string;
  engine?: DbEngine;
  user?: string;
  passwordEnv?: string;
  /** Volumes: whether it exists now (a missing one is recreated with its recorded labels). */
  exists?: boolean;
  labels?: Record<string, string>;
  /** `--to`: the dump is the base, and these archived logs are replayed up to the target time. */
  pointInTime?: PlannedPointInTime;
}

/** A point-in-time restore of one database (DESIGN §11). */
export interface PlannedPointInTime {
  /** The target time (ISO): every change stamped up to its second is replayed. */
  to: string;
  /** The archived logs replayed, in order, and their keys on the targets. */
  logs: string[];
  keys: string[];
  /** The recovery window the target was found in. */
  windowFrom: string;
  windowTo: string;
  /** After the replay: the time of the last change replayed (the data-loss window ends there). */
  lastChangeAt?: string;
  /**
   * PostgreSQL: the physical base backup (its key) the WAL segments in `logs` are replayed onto,
   * in a scratch server; the result is then loaded into the live database as a dump.
   */
  base?: string;
}

/** What a bare-host restore re-creates from the set's recorded host (names only, no values). */
export interface HostRebuildPlan {
  /** The set whose host.json is used. */
  specSet: string;
  networks: string[];
  /** Volumes created empty (a database's data directory); restored volumes are not listed. */
  volumes: string[];
  /** Database containers created fresh before their dumps are loaded. */
  databases: string[];
  /** The other containers, in dependency order. */
  containers: string[];
  /** `container:VARIABLE` secret values the new containers get from drbot's env or --env-file. */
  secrets: string[];
}

export interface RestorePlan {
  scope: string;
  from: string | undefined;
  assets: PlannedAsset[];
  /** Containers stopped before the restore, in this order, and started again in reverse. */
  stopContainers: string[];
  /** Tightest RTO among the assets. */
  rtoMs: number | undefined;
  /** Median duration of past successful restores of the same scope. */
  expectedMs: number | undefined;
  diskFreeBytes: number | undefined;
  /** Things the approver should know (missing volumes, RPO breaches …). */
  notes: string[];
  /** Present when the restore re-creates missing networks, volumes or containers. */
  rebuild?: HostRebuildPlan;
  /** Binds an approval to exactly this plan. */
  fingerprint: string;
}

/** A digest of what makes a plan what it is: if any of it changes, an approval is void. */
export function planFingerprint(plan: Omit<RestorePlan, 'fingerprint'>): string {
  const essence = {
    scope: plan.scope,
    from: plan.from ?? null,
    assets: plan.assets.map((a) => [a.asset, a.setId, a.sha256, a.readFrom]),
    stop: plan.stopContainers,
    ...(plan.rebuild ? { rebuild: plan.rebuild } : {}),
    ...(plan.assets.some((a) => a.pointInTime)
      ? { to: plan.assets.map((a) => a.pointInTime?.to ?? null) }
      : {}),
  };
  return createHash('sha256').update(JSON.stringify(essence)).digest('hex').slice(0, 16);
}

export function parseScope(text: string): RestoreScope {
  if (text === 'full' || text === 'db-only') return text;
  return `asset:${text}`;
}

export function scopeLabel(scope: RestoreScope | string): string {
  return scope.startsWith('asset:') ? scope.slice('asset:'.length) : scope;
}
