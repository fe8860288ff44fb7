// Rebuilding the catalog of archived logs from what the targets hold (a new host, a lost state file).
import { logSequence, PITR_PREFIX, parseStamp, walSequence } from '../../domain/pitr.js';
import { describeError } from '../../errors.js';
import type { EngineDeps } from '../deps.js';
import { HashCounter, hashStream } from '../streams/streams.js';
import { BinlogEvents } from './binlog-events.js';
import { readLog } from './replay.js';
import { storedRecord } from './ship.js';

/** `pitr/<asset>/<YYYYMMDDTHHMMSSZ>-<log name>.gz`, or `.gz.age` when encrypted */
const LOG_KEY = /^pitr\/([^/]+)\/(\d{8}T\d{6}Z)-([A-Za-z0-9_.-]+?)\.gz(?:\.age)?$/;
/** A WAL segment's log name part: `<segment>_<end of its pass>`. */
const WAL_NAME = /^([0-9A-F]{24})_(\d{8}T\d{6}Z)$/;
/** `pitr/<asset>/base/<YYYYMMDDTHHMMSSZ>-<segment>.tar.gz(.age)`: a PostgreSQL base backup. */
const BASE_KEY = /^pitr\/([^/]+)\/base\/(\d{8}T\d{6}Z)-([0-9A-F]{24})\.tar\.gz(?:\.age)?$/;

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
        if (LOG_KEY.test(key) || BASE_KEY.test(key)) where.set(key, [...(where.get(key) ?? []), t.name]);
    } catch (err) {
      problems.push(`${t.name}: cannot list ${PITR_PREFIX} (${describeError(err)})`);
    }
  }
  const known = new Map<string, Set<string>>();
  let added = 0;
  const bases: Array<{ key: string; targets: string[] }> = [];
  for (const [key, targets] of where) {
    if (BASE_KEY.test(key)) {
      bases.push({ key, targets });
      continue;
    }
    const [, asset, first, name] = LOG_KEY.exec(key) as RegExpExecArray;
    if (!asset || !name) continue;
    if (!known.has(asset)) known.set(asset, new Set(deps.store.pitrLogs(asset).map((l) => l.key)));
    if (known.get(asset)?.has(key)) continue;
    const target = deps.targets.find((t) => t.name === targets[0]);
    if (!target) continue;
    const wal = WAL_NAME.exec(name);
    if (wal) {
      // A WAL segment: its key says which and the span of its pass; it is hashed, not decoded.
      const [, segment, last] = wal as unknown as [string, string, string];
      const hashed = await hashed_(target, key, problems);
      if (!hashed) continue;
      deps.store.savePitrLog(
        storedRecord(
          deps,
          {
            asset,
            name: segment,
            seq: walSequence(segment) ?? 0,
            key,
            firstAt: parseStamp(first as string) as Date,
            lastAt: parseStamp(last) as Date,
            rawSize: 0,
          },
          hashed,
          targets,
        ),
      );
      added++;
      continue;
    }
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
      const log = storedRecord(
        deps,
        {
          asset,
          name,
          seq: logSequence(name) ?? 0,
          key,
          firstAt: new Date(events.firstAt * 1000),
          lastAt: new Date(events.lastAt * 1000),
          rawSize: raw,
        },
        { bytes: hasher.bytes, sha256: hasher.sha256 },
        targets,
      );
      deps.store.savePitrLog(log);
      added++;
    } catch (err) {
      problems.push(`${target.name}: ${key} left out: ${describeError(err)}`);
    }
  }
  // Base backups last: each became consistent by the end of the pass that shipped WAL after
  // its start (the earliest such end is taken: it can only be later than the truth).
  for (const { key, targets } of bases) {
    const [, asset, start, segment] = BASE_KEY.exec(key) as unknown as [string, string, string, string];
    if (deps.store.pitrBases(asset).some((b) => b.key === key)) continue;
    const target = deps.targets.find((t) => t.name === targets[0]);
    const startAt = parseStamp(start) as Date;
    const consistent = deps.store
      .pitrLogs(asset)
      .filter((l) => l.lastAt > startAt)
      .reduce<Date | undefined>((m, l) => (m === undefined || l.lastAt < m ? l.lastAt : m), undefined);
    if (!target || !consistent) {
      problems.push(`${key} left out: no archived WAL after it says when it became consistent`);
      continue;
    }
    const hashed = await hashed_(target, key, problems);
    if (!hashed) continue;
    deps.store.savePitrLog(
      storedRecord(
        deps,
        {
          asset,
          name: segment,
          seq: walSequence(segment) ?? 0,
          key,
          firstAt: startAt,
          lastAt: consistent,
          rawSize: 0,
        },
        hashed,
        targets,
      ),
    );
    added++;
  }
  return { added, problems };
}

/** The stored bytes' size and sha256, or undefined with the problem recorded. */
async function hashed_(
  target: EngineDeps['targets'][number],
  key: string,
  problems: string[],
): Promise<{ bytes: number; sha256: string } | undefined> {
  try {
    return await hashStream(await target.read(key));
  } catch (err) {
    problems.push(`${target.name}: ${key} left out: ${describeError(err)}`);
    return undefined;
  }
}
