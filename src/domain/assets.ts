// Assets (volumes and databases) and the rules on their names and artifact files.
import type { EffectivePolicy } from './policy.js';

/**
 * What an asset name may be, from the config or a `dr.name` label. The name becomes a file
 * name, an S3 key, a line of SHA256SUMS and text in Slack messages: a newline would forge a
 * checksum line, `<!channel>` would page a whole channel.
 */
export const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const ASSET_NAME_RULE = 'letters, digits, _ . - (max 128)';
/** An environment variable name (`passwordEnv`, `dr.password-env`). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const DB_ENGINES = ['mysql', 'mariadb', 'postgres'] as const;
export type DbEngine = (typeof DB_ENGINES)[number];

export type ArtifactKind = 'mysql-dump' | 'postgres-dump' | 'volume-tar';

export interface VolumeAsset {
  kind: 'volume';
  name: string;
  volume: string;
  labels: Record<string, string>;
  policy: EffectivePolicy;
  /** Containers that mount the volume (for restores that must stop them). */
  usedBy: string[];
  /**
   * The database whose container mounts the volume: its data directory, by all signs. The
   * database's dump covers it, since a tar of a running InnoDB or PostgreSQL data directory is
   * not consistent; it is archived only with `drbot.archive=stopped`.
   */
  dataOf?: string;
  /**
   * Label `drbot.archive=stopped`: the running containers that mount the volume are stopped
   * for its archive and started again afterwards, whatever happens.
   */
  archiveStopped?: boolean;
}

/** The label that asks for a volume to be archived with the containers that mount it stopped. */
export const ARCHIVE_LABEL = 'drbot.archive';

/** A database's data volume that only its dump protects (no `drbot.archive=stopped`). */
export function coveredByDump(asset: Asset): asset is VolumeAsset & { dataOf: string } {
  return asset.kind === 'volume' && asset.dataOf !== undefined && !asset.archiveStopped;
}

export interface DatabaseAsset {
  kind: 'database';
  name: string;
  engine: DbEngine;
  container: string;
  user: string;
  /** Name of the container environment variable holding the password. */
  passwordEnv: string;
  policy: EffectivePolicy;
  source: 'config' | 'labels';
}

export type Asset = VolumeAsset | DatabaseAsset;

export function artifactKindOf(asset: Asset): ArtifactKind {
  if (asset.kind === 'volume') return 'volume-tar';
  return asset.engine === 'postgres' ? 'postgres-dump' : 'mysql-dump';
}

/** The artifact's file name inside a set: hand-restorable with gunzip/tar. */
export function artifactFileName(asset: Asset): string {
  return `${asset.name}${asset.kind === 'volume' ? '.tar.gz' : '.sql.gz'}`;
}

export const DEFAULT_DB_USER: Record<DbEngine, string> = {
  mysql: 'root',
  mariadb: 'root',
  postgres: 'postgres',
};
export const DEFAULT_PASSWORD_ENV: Record<DbEngine, string> = {
  mysql: 'MYSQL_ROOT_PASSWORD',
  mariadb: 'MARIADB_ROOT_PASSWORD',
  postgres: 'POSTGRES_PASSWORD',
};
/** Variables tried after the configured one, as the official images accept either. */
export const FALLBACK_PASSWORD_ENVS: Record<DbEngine, string[]> = {
  mysql: ['MARIADB_ROOT_PASSWORD'],
  mariadb: ['MYSQL_ROOT_PASSWORD'],
  postgres: [],
};
