// Rebuilding the catalog of archived logs from what the targets hold (a new host, a lost state file).
import { logSequence, PITR_PREFIX, type PitrLog } from '../../domain/pitr.js';
import { describeError } from '../../errors.js';
import type { EngineDeps } from '../deps.js';
import { HashCounter } from '../streams/streams.js';
import { BinlogEvents } from './binlog-events.js';
import { readLog } from './replay.js';

/** `pitr/<asset>/<YYYYMMDDTHHMMSSZ>-<log name>.gz`, or `.gz.age` when encrypted */
const LOG_KEY = /^pitr\/([^/]+)\/(\d{8}T\d{6}Z)-([A-Za-z0-9_.-]+?)\.gz(?:\.age)?$/;

/**
 * Adds to the catalog every archived log a target holds that it does not know (logs archived
 * after the newest state snapshot): each is read once, hashed, and its event times read. A log
 * that cannot be read is left out and reported. Returns what was added and what was not.
 */
export async function rebuildLogCatalog(deps: EngineDeps): Promise<{ added: number; problems: string[] }> {
  const where = new Map<string, string[]>();
  const problems: string[] = [];
  for (const t of deps.targets) {
    try {
      for (const key of await t.list(PITR_PREFIX))
        if (LOG_KEY.test(key)) where.set(key, [...(where.get(key) ?? []), t.name]);
    } catch (err) {
      problems.push(`${t.name}: cannot list ${PITR_PREFIX} (${describeError(err)})`);
    }
  }
  const known = new Map<string, Set<string>>();
  let added = 0;
  for (const [key, targets] of where) {
    const [, asset, , name] = LOG_KEY.exec(key) as RegExpExecArray;
    if (!asset || !name) continue;
    if (!known.has(asset)) known.set(asset, new Set(deps.store.pitrLogs(asset).map((l) => l.key)));
    if (known.get(asset)?.has(key)) continue;
    const target = deps.targets.find((t) => t.name === targets[0]);
    if (!target) continue;
    try {
      const hasher = new HashCounter();
      const events = new BinlogEvents();
      let raw = 0;
      events.on('data', (c: Buffer) => {
        raw += c.length;
      });
      await readLog(
        deps,
        key,
        await target.read(key),
        hasher,
        events,
        'rebuilding the catalog of encrypted binary logs',
      );
      if (events.firstAt === undefined || events.lastAt === undefined) throw new Error('no events in it');
      const log: PitrLog = {
        asset,
        name,
        seq: logSequence(name) ?? 0,
        key,
        firstAt: new Date(events.firstAt * 1000),
        lastAt: new Date(events.lastAt * 1000),
        size: hasher.bytes,
        rawSize: raw,
        sha256: hasher.sha256,
        archivedAt: deps.clock.now(),
        status: 'complete',
        error: undefined,
        targets,
      };
      deps.store.savePitrLog(log);
      added++;
    } catch (err) {
      problems.push(`${target.name}: ${key} left out: ${describeError(err)}`);
    }
  }
  return { added, problems };
}
