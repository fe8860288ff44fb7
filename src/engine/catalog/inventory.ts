// The live inventory (volumes, databases) and resolving asset names against it.
import { ARCHIVE_LABEL, type Asset, coveredByDump } from '../../domain/assets.js';
import { buildInventory, type Inventory } from '../../domain/inventory.js';
import { ErrorCode, userError } from '../../errors.js';
import type { EngineDeps } from '../deps.js';

export async function loadInventory(deps: Pick<EngineDeps, 'runtime' | 'config'>): Promise<Inventory> {
  const [volumes, containers] = await Promise.all([
    deps.runtime.listVolumes(),
    deps.runtime.listContainers(),
  ]);
  return buildInventory({
    volumes,
    containers,
    databases: deps.config.databases,
    tiers: deps.config.tierMap,
  });
}

/**
 * Resolves `all` or an asset name against the inventory. Unknown names, excluded and invalid
 * assets are user errors that name what is allowed; nothing has started at this point.
 */
export function selectAssets(inventory: Inventory, target: string): Asset[] {
  const protectedAssets = inventory.assets.filter((a) => a.policy.protected);
  if (target === 'all') {
    if (!protectedAssets.length) {
      throw userError(
        ErrorCode.NOTHING_TO_BACK_UP,
        'no protected assets: label volumes (tier=…) or declare databases in the config; see `drbot status`',
      );
    }
    return protectedAssets;
  }
  const asset = inventory.assets.find((a) => a.name === target);
  if (asset && coveredByDump(asset)) {
    throw userError(
      ErrorCode.UNKNOWN_ASSET,
      `volume '${target}' is the data directory of database ${asset.dataOf} and is covered by its dump (back up ${asset.dataOf}): a tar of a running InnoDB or PostgreSQL data directory is not consistent. To archive the volume too, with the database's container stopped meanwhile, create it with the label ${ARCHIVE_LABEL}=stopped`,
    );
  }
  if (asset && !asset.policy.protected) {
    throw userError(
      ErrorCode.UNKNOWN_ASSET,
      `asset '${target}' is excluded from backups (backup=none); change its labels to protect it`,
    );
  }
  if (asset) return [asset];
  const invalid = inventory.invalid.find((i) => i.name === target);
  if (invalid) {
    throw userError(
      ErrorCode.LABEL_INVALID,
      `asset '${target}' cannot be backed up until its labels are fixed: ${invalid.problems.join('; ')}`,
    );
  }
  const names = protectedAssets.map((a) => a.name);
  const unprotected = inventory.unprotected.find((u) => u.volume === target);
  const hint = unprotected ? ` (volume '${target}' has no labels: add --label tier=… to protect it)` : '';
  throw userError(
    ErrorCode.UNKNOWN_ASSET,
    `unknown asset '${target}'${hint}; allowed: all${names.length ? `, ${names.join(', ')}` : ''}`,
  );
}
