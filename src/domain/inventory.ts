// The inventory: what the Docker engine and the config hold, classified into assets (pure).
import type { ContainerInfo, VolumeInfo } from '../ports/container-runtime.js';
import {
  ARCHIVE_LABEL,
  ASSET_NAME,
  ASSET_NAME_RULE,
  type Asset,
  coveredByDump,
  type DatabaseAsset,
  DB_ENGINES,
  type DbEngine,
  DEFAULT_DB_USER,
  DEFAULT_PASSWORD_ENV,
  ENV_NAME,
  type VolumeAsset,
} from './assets.js';
import { parseRetention } from './duration.js';
import { readPolicyLabels, type Tier } from './policy.js';

/** A volume with no drbot labels: listed, never backed up silently. */
export interface UnprotectedVolume {
  volume: string;
  usedBy: string[];
  /** A database asset whose logical dump covers this volume (its data directory). */
  coveredBy: string | undefined;
}

export interface InvalidAsset {
  name: string;
  kind: 'volume' | 'database';
  problems: string[];
}

export interface Inventory {
  /** Assets with a valid policy; `policy.protected` false means excluded (`backup=none`). */
  assets: Asset[];
  unprotected: UnprotectedVolume[];
  invalid: InvalidAsset[];
}

export interface DeclaredDatabase {
  name: string;
  container: string;
  engine: DbEngine;
  tier: string;
  user?: string | undefined;
  passwordEnv?: string | undefined;
  retention?: string | undefined;
}

const POLICY_LABELS = ['tier', 'backup', 'retention'];

/**
 * Classifies what the engine reports into assets (pure: no I/O). Databases come from the config
 * file and from container labels (`dr.engine` + `tier`); volumes from their labels.
 */
export function buildInventory(input: {
  volumes: VolumeInfo[];
  containers: ContainerInfo[];
  databases: readonly DeclaredDatabase[];
  tiers: ReadonlyMap<string, Tier>;
}): Inventory {
  const { volumes, containers, tiers } = input;
  const assets: Asset[] = [];
  const invalid: InvalidAsset[] = [];

  const databases: DatabaseAsset[] = [];
  const declaredContainers = new Set(input.databases.map((d) => d.container));
  for (const db of input.databases) {
    const labels: Record<string, string> = {
      tier: db.tier,
      ...(db.retention ? { retention: db.retention } : {}),
    };
    const reading = readPolicyLabels(labels, tiers);
    if (!reading.ok) {
      invalid.push({ name: db.name, kind: 'database', problems: reading.problems });
      continue;
    }
    databases.push({
      kind: 'database',
      name: db.name,
      engine: db.engine,
      container: db.container,
      user: db.user ?? DEFAULT_DB_USER[db.engine],
      passwordEnv: db.passwordEnv ?? DEFAULT_PASSWORD_ENV[db.engine],
      policy: reading.policy,
      source: 'config',
    });
  }
  for (const c of containers) {
    const engine = c.labels['dr.engine'];
    if (engine === undefined || declaredContainers.has(c.name)) continue;
    const label = c.labels['dr.name'];
    // A label is anyone's free text; until it passes the name rule, the container's own name
    // (which Docker already restricts) stands for the database in every message.
    const name = label !== undefined && ASSET_NAME.test(label) ? label : c.name;
    const labelProblems = [
      ...(label !== undefined && !ASSET_NAME.test(label)
        ? [`label dr.name=${shown(label)} on container ${c.name} is not allowed: must be ${ASSET_NAME_RULE}`]
        : []),
      ...(c.labels['dr.password-env'] !== undefined && !ENV_NAME.test(c.labels['dr.password-env'])
        ? [
            `label dr.password-env=${shown(c.labels['dr.password-env'])} on container ${c.name} is not allowed: must be an environment variable name`,
          ]
        : []),
    ];
    if (labelProblems.length) {
      invalid.push({ name, kind: 'database', problems: labelProblems });
      continue;
    }
    if (!(DB_ENGINES as readonly string[]).includes(engine)) {
      invalid.push({
        name,
        kind: 'database',
        problems: [
          `label dr.engine=${shown(engine)} on container ${c.name} is not allowed (allowed: ${DB_ENGINES.join(', ')})`,
        ],
      });
      continue;
    }
    const reading = readPolicyLabels(c.labels, tiers);
    if (!reading.ok) {
      invalid.push({
        name,
        kind: 'database',
        problems: reading.problems.map((p) => `${p} on container ${c.name}`),
      });
      continue;
    }
    const e = engine as DbEngine;
    databases.push({
      kind: 'database',
      name,
      engine: e,
      container: c.name,
      user: c.labels['dr.user'] ?? DEFAULT_DB_USER[e],
      passwordEnv: c.labels['dr.password-env'] ?? DEFAULT_PASSWORD_ENV[e],
      policy: reading.policy,
      source: 'labels',
    });
  }
  assets.push(...databases);

  const usedBy = new Map<string, string[]>();
  for (const c of containers) {
    for (const m of c.mounts) {
      if (m.volume) usedBy.set(m.volume, [...(usedBy.get(m.volume) ?? []), c.name]);
    }
  }
  const dbByContainer = new Map(databases.map((d) => [d.container, d.name]));

  const unprotected: UnprotectedVolume[] = [];
  for (const v of [...volumes].sort((a, b) => a.name.localeCompare(b.name))) {
    const users = (usedBy.get(v.name) ?? []).sort();
    const hasPolicyLabels = POLICY_LABELS.some((l) => v.labels[l] !== undefined);
    if (!hasPolicyLabels) {
      const coveredBy = users.map((u) => dbByContainer.get(u)).find((n) => n !== undefined);
      unprotected.push({ volume: v.name, usedBy: users, coveredBy });
      continue;
    }
    const dataOf = users.map((u) => dbByContainer.get(u)).find((n) => n !== undefined);
    const asset = volumeAsset(v, users, tiers, dataOf);
    if ('problems' in asset) invalid.push(asset);
    else assets.push(asset);
  }

  // An asset name must point at one thing: a database and a volume may not share it.
  const seen = new Map<string, Asset>();
  const unique: Asset[] = [];
  for (const a of assets) {
    const other = seen.get(a.name);
    if (other) {
      invalid.push({
        name: a.name,
        kind: a.kind,
        problems: [
          `asset name '${a.name}' is used by a ${other.kind} too; rename one (databases: name in the config or label dr.name)`,
        ],
      });
      continue;
    }
    seen.set(a.name, a);
    unique.push(a);
  }
  return { assets: unique, unprotected, invalid };
}

function volumeAsset(
  v: VolumeInfo,
  usedBy: string[],
  tiers: ReadonlyMap<string, Tier>,
  dataOf: string | undefined,
): VolumeAsset | InvalidAsset {
  const archive = v.labels[ARCHIVE_LABEL];
  if (archive !== undefined && archive !== 'stopped')
    return {
      name: v.name,
      kind: 'volume',
      problems: [
        `volume ${v.name}: label ${ARCHIVE_LABEL}=${shown(archive)} is not allowed (allowed: stopped)`,
      ],
    };
  // `backup=none` alone is a clear statement: excluded, whatever the tier.
  if (v.labels.backup === 'none' && v.labels.tier === undefined) {
    const retention = parseRetention(v.labels.retention ?? '7days') ?? { count: 7, unit: 'day' as const };
    return {
      kind: 'volume',
      name: v.name,
      volume: v.name,
      labels: v.labels,
      usedBy,
      policy: {
        tier: '-',
        schedule: undefined,
        frequency: 'none',
        retention,
        rpoMs: undefined,
        rtoMs: undefined,
        protected: false,
      },
    };
  }
  const reading = readPolicyLabels(v.labels, tiers);
  if (!reading.ok)
    return { name: v.name, kind: 'volume', problems: reading.problems.map((p) => `volume ${v.name}: ${p}`) };
  const asset: VolumeAsset = {
    kind: 'volume',
    name: v.name,
    volume: v.name,
    labels: v.labels,
    usedBy,
    policy: reading.policy,
    ...(dataOf !== undefined ? { dataOf } : {}),
    ...(archive === 'stopped' ? { archiveStopped: true } : {}),
  };
  // A database's data directory, archived while the engine writes to it, is not a consistent
  // copy: the dump protects it, unless the volume asks to be archived with the database stopped.
  if (coveredByDump(asset)) asset.policy = { ...asset.policy, protected: false };
  return asset;
}

/**
 * A label value as messages may show it: quoted, at most 40 characters, and anything but
 * letters, digits, spaces and `_ . - = :` shown as `?` — the value is what failed validation,
 * so it must not carry mrkdwn (`<!channel>`) or newlines into Slack or the logs.
 */
function shown(value: string): string {
  const safe = value.slice(0, 40).replace(/[^A-Za-z0-9 _.=:-]/g, '?');
  return `'${safe}${value.length > 40 ? '…' : ''}'`;
}
