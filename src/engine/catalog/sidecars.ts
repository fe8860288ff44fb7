// The set's own description of the host (host.json) and of drbot's state, written beside its artifacts.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Asset } from '../../domain/assets.js';
import { HOST_SPEC_FILE } from '../../domain/host-spec.js';
import { setDirectory } from '../../domain/layout.js';
import { describeError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import { captureHostSpec } from '../backup/host-capture.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import type { SidecarFile } from './manifest.js';

export const STATE_SNAPSHOT_FILE = 'drbot-state.sqlite.gz';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Writes host.json and a consistent snapshot of the state file to every target. Neither is
 * needed to restore the set's own artifacts, so a failure is a warning, not a failed backup:
 * the set stays restorable by hand and by drbot on a host that still exists.
 */
export async function writeSidecars(
  deps: EngineDeps,
  ctx: RunContext,
  input: { setId: string; at: Date; assets: Asset[]; targets: BackupTarget[] },
): Promise<SidecarFile[]> {
  const dir = setDirectory(input.setId, input.at);
  const files: SidecarFile[] = [];
  const put = async (file: string, role: SidecarFile['role'], body: Buffer) => {
    await Promise.all(input.targets.map((t) => t.put(`${dir}/${file}`, body)));
    files.push({ file, role, size: body.length, sha256: sha256(body) });
  };
  try {
    const spec = await captureHostSpec(deps, input.assets);
    await put(HOST_SPEC_FILE, 'host-spec', Buffer.from(`${JSON.stringify(spec, null, 2)}\n`));
    ctx.info(
      `host spec recorded: ${spec.containers.length} container(s), ${spec.networks.length} network(s), ${spec.volumes.length} volume(s)`,
    );
  } catch (err) {
    ctx.warn(
      `the host spec was not recorded (a bare-host restore of this set will need the containers to exist): ${describeError(err)}`,
    );
  }
  const tmp = await mkdtemp(join(tmpdir(), 'drbot-state-'));
  try {
    const file = join(tmp, 'state.sqlite');
    await deps.store.snapshotTo(file);
    const body = await promisify(gzip)(await readFile(file));
    await put(STATE_SNAPSHOT_FILE, 'state-snapshot', body);
  } catch (err) {
    ctx.warn(`drbot's state was not snapshotted with this set: ${describeError(err)}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return files;
}
