// Point-in-time recovery: archived logs, log chains, recovery windows and the plan for a target time.

/** One archived binary log (MySQL/MariaDB) as the catalog keeps it. */
export interface PitrLog {
  asset: string;
  /** The server's own name for it, e.g. `mysql-bin.000007`. */
  name: string;
  /** Its sequence number (the name's numeric suffix): consecutive logs differ by one. */
  seq: number;
  /** Key on every target: `pitr/<asset>/<first event stamp>-<name>.gz`. */
  key: string;
  /** Time of its first and last event (whole seconds, as the server stamps events). */
  firstAt: Date;
  lastAt: Date;
  /** Stored (gzipped) bytes, raw bytes and the sha256 of the stored bytes. */
  size: number;
  rawSize: number;
  sha256: string;
  archivedAt: Date;
  /** `failed`: a copy was found missing or different; the chain has a gap there. */
  status: 'complete' | 'failed' | 'pruned';
  error: string | undefined;
  /** Targets holding a confirmed copy. */
  targets: string[];
}

/**
 * A base a replay can start from: a complete dump of the asset (MySQL/MariaDB), or a physical
 * base backup (PostgreSQL: `setId` is then the base backup's key, `createdAt` the time it
 * became consistent, and `startSeq` the WAL segment its replay starts in).
 */
export interface PitrBase {
  setId: string;
  createdAt: Date;
  deepVerified: boolean;
  startSeq?: number;
}

/** An unbroken run of archived logs (consecutive sequence numbers, every one complete). */
export interface LogChain {
  logs: PitrLog[];
  firstAt: Date;
  lastAt: Date;
}

/** A span of time any second of which can be restored, and the base it starts from. */
export interface RecoveryWindow {
  from: Date;
  to: Date;
  /** The oldest base of the window (the window starts at its time). */
  base: PitrBase;
  chain: LogChain;
}

/** A place in the log chain where a log is missing or failed. */
export interface ChainGap {
  /** The last good log before the gap and the first good one after it (undefined at an end). */
  after: PitrLog | undefined;
  before: PitrLog | undefined;
  /** What is missing, e.g. `mysql-bin.000005` or `mysql-bin.000005 (failed: …)`. */
  missing: string[];
}

const SECOND = 1000;
const floorSecond = (d: Date) => new Date(Math.floor(d.getTime() / SECOND) * SECOND);

/** The sequence number in a binary log's name (`mysql-bin.000007` → 7). */
export function logSequence(name: string): number | undefined {
  const m = /\.(\d+)$/.exec(name);
  return m?.[1] ? Number(m[1]) : undefined;
}

/** A PostgreSQL WAL segment's file name: timeline, log and segment, 8 hex digits each. */
export const WAL_SEGMENT = /^[0-9A-F]{24}$/;

/** Whether an archived log is a WAL segment (PostgreSQL) rather than a binary log. */
export const isWalSegment = (name: string) => WAL_SEGMENT.test(name);

/** The default WAL segment size (`wal_segment_size`), assumed when rebuilding from keys. */
export const DEFAULT_WAL_SEGMENT_BYTES = 16 * 1024 * 1024;

/**
 * The position of a WAL segment in the server's WAL, whatever its timeline: consecutive
 * segments differ by one (`000000010000000000000007` → 7; log 1 segment 0 → 4294967296 / size).
 */
export function walSequence(name: string, segmentBytes = DEFAULT_WAL_SEGMENT_BYTES): number | undefined {
  if (!isWalSegment(name)) return undefined;
  const log = Number.parseInt(name.slice(8, 16), 16);
  const seg = Number.parseInt(name.slice(16, 24), 16);
  return log * Math.floor(0x1_0000_0000 / segmentBytes) + seg;
}

/** A time as the key part of an archived log: `20261129T063602Z`. */
export function logStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export const PITR_PREFIX = 'pitr/';

/** Where an archived log is stored; `.gz.age` when it is encrypted (encryption.recipients). */
export function logKey(asset: string, name: string, firstAt: Date, encrypted = false): string {
  return `${PITR_PREFIX}${asset}/${logStamp(firstAt)}-${name}.gz${encrypted ? '.age' : ''}`;
}

/**
 * Where an archived WAL segment is stored: `pitr/<asset>/<from>-<segment>_<to>.gz`, with the
 * span of time its pass covered in the key (a new host rebuilds its catalog from keys alone).
 */
export function walKey(
  asset: string,
  segment: string,
  firstAt: Date,
  lastAt: Date,
  encrypted = false,
): string {
  return `${PITR_PREFIX}${asset}/${logStamp(firstAt)}-${segment}_${logStamp(lastAt)}.gz${encrypted ? '.age' : ''}`;
}

/** Where PostgreSQL base backups of an asset are stored. */
export const basePrefix = (asset: string) => `${PITR_PREFIX}${asset}/base/`;

/**
 * Where a physical base backup is stored: `pitr/<asset>/base/<start>-<segment>.tar.gz`, the
 * segment its replay starts in. (When it became consistent is known only once it is stored: a
 * rebuilt catalog takes the end of the pass that shipped the WAL after it.)
 */
export function baseKey(asset: string, segment: string, startAt: Date, encrypted = false): string {
  return `${basePrefix(asset)}${logStamp(startAt)}-${segment}.tar.gz${encrypted ? '.age' : ''}`;
}

/** A stamp of a key back into a time (`20261129T063602Z`). */
export function parseStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : undefined;
}

/**
 * Splits an asset's logs (complete and failed, any order) into unbroken chains, and names the
 * gaps between them: a failed log, or a sequence number no log has.
 */
export function logChains(logs: PitrLog[]): { chains: LogChain[]; gaps: ChainGap[] } {
  const ordered = logs
    .filter((l) => l.status !== 'pruned')
    .sort((a, b) => a.firstAt.getTime() - b.firstAt.getTime() || a.seq - b.seq);
  const chains: LogChain[] = [];
  const gaps: ChainGap[] = [];
  let current: PitrLog[] = [];
  let failed: PitrLog[] = [];
  const close = () => {
    if (current.length)
      chains.push({
        logs: current,
        firstAt: (current[0] as PitrLog).firstAt,
        lastAt: (current.at(-1) as PitrLog).lastAt,
      });
    current = [];
  };
  for (const log of ordered) {
    if (log.status === 'failed') {
      failed.push(log);
      continue;
    }
    const prev = current.at(-1);
    if (!prev || (log.seq === prev.seq + 1 && !failed.length)) {
      if (!prev && failed.length)
        gaps.push({ after: undefined, before: log, missing: failed.map(failedName) });
      failed = [];
      current.push(log);
      continue;
    }
    const missing = failed.map(failedName);
    const named = new Set(failed.map((f) => f.seq));
    if (log.seq <= prev.seq) missing.push(`(log numbering restarted at ${log.name})`);
    else if (log.seq - prev.seq - 1 > 50) missing.push(`${log.seq - prev.seq - 1} logs before ${log.name}`);
    else
      for (let s = prev.seq + 1; s < log.seq; s++)
        if (!named.has(s))
          missing.push(
            isWalSegment(log.name) ? walName(log.name, s) : `${prefixOf(log.name)}${pad(s, log.name)}`,
          );
    gaps.push({ after: prev, before: log, missing });
    close();
    failed = [];
    current.push(log);
  }
  if (failed.length) gaps.push({ after: current.at(-1), before: undefined, missing: failed.map(failedName) });
  close();
  return { chains, gaps };
}

function failedName(l: PitrLog): string {
  return `${l.name} (${l.error ?? 'failed'})`;
}

/** The name of the WAL segment at sequence `seq` on the timeline of `like` (default segment size). */
function walName(like: string, seq: number): string {
  const perLog = Math.floor(0x1_0000_0000 / DEFAULT_WAL_SEGMENT_BYTES);
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${like.slice(0, 8)}${hex(Math.floor(seq / perLog))}${hex(seq % perLog)}`;
}

function prefixOf(name: string): string {
  return name.replace(/\d+$/, '');
}

function pad(n: number, like: string): string {
  const digits = /(\d+)$/.exec(like)?.[1]?.length ?? 6;
  return String(n).padStart(digits, '0');
}

/**
 * Whether a chain can extend a base: the base's dump started while one of the chain's logs was
 * open. Event times are whole seconds, so the chain must have begun a full second before.
 */
function extends_(chain: LogChain, base: PitrBase): boolean {
  const t = base.createdAt.getTime();
  // A physical base: the chain holds the segment its replay starts in, and reaches its end.
  if (base.startSeq !== undefined)
    return chain.logs.some((l) => l.seq === base.startSeq) && t <= chain.lastAt.getTime();
  return chain.firstAt.getTime() <= t - SECOND && t <= chain.lastAt.getTime();
}

/**
 * Where a chain ends for a restore: the last whole second whose events are all archived. The
 * newest binary log's last event (its rotation) may share its second with events of the next
 * log; WAL segments end exactly at the switch that closed them.
 */
export function chainEnd(chain: LogChain): Date {
  // WAL segments end where a pass closed them, at a time the server gave to the microsecond.
  if (chain.logs.some((l) => isWalSegment(l.name))) return chain.lastAt;
  return new Date(chain.lastAt.getTime() - SECOND);
}

/** The recovery windows, oldest first: each chain from the oldest base it extends to its end. */
export function recoveryWindows(logs: PitrLog[], bases: PitrBase[]): RecoveryWindow[] {
  const { chains } = logChains(logs);
  const oldestFirst = [...bases].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const windows: RecoveryWindow[] = [];
  for (const chain of chains) {
    const base = oldestFirst.find((b) => extends_(chain, b));
    if (!base) continue;
    // A dump's events are stamped in whole seconds; a base backup's end is exact.
    const from =
      base.startSeq !== undefined
        ? base.createdAt
        : new Date(Math.ceil(base.createdAt.getTime() / SECOND) * SECOND);
    const to = chainEnd(chain);
    if (to.getTime() >= from.getTime()) windows.push({ from, to, base, chain });
  }
  return windows;
}

/** What a restore to a point in time replays: the base and the logs from it to the target. */
export interface PitrPlan {
  to: Date;
  base: PitrBase;
  logs: PitrLog[];
  window: { from: Date; to: Date };
}

/**
 * The plan for restoring to `to`: the newest base before it whose chain reaches it, and the
 * logs from the one open when that base was dumped to the one holding the target second.
 * Undefined when `to` is in no window.
 */
export function planPointInTime(logs: PitrLog[], bases: PitrBase[], to: Date): PitrPlan | undefined {
  const { chains } = logChains(logs);
  const target = floorSecond(to).getTime();
  const newestFirst = [...bases].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  for (const chain of chains) {
    if (target > chainEnd(chain).getTime()) continue;
    const base = newestFirst.find((b) => b.createdAt.getTime() <= to.getTime() && extends_(chain, b));
    if (!base) continue;
    const start = base.createdAt.getTime() - SECOND;
    const selected: PitrLog[] = [];
    for (const log of chain.logs) {
      if (base.startSeq !== undefined) {
        // WAL: every segment of each pass that began by the target, so the last one selected
        // ends where a pass closed them, at or after the target (segments of a pass share it).
        if (log.seq < base.startSeq) continue;
        if (log.firstAt.getTime() >= to.getTime() && selected.length) break;
        selected.push(log);
        continue;
      }
      if (log.lastAt.getTime() < start) continue;
      selected.push(log);
      if (log.lastAt.getTime() > target) break;
    }
    const window = recoveryWindows(chain.logs, bases)[0];
    return {
      to,
      base,
      logs: selected,
      window: { from: window?.from ?? base.createdAt, to: chainEnd(chain) },
    };
  }
  return undefined;
}

/** `2026-11-29 06:36:03`: the form `--stop-datetime` takes, in UTC. */
export function sqlDatetime(d: Date): string {
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');
}

/** The replay stops before the first event of the second after the target's (whole seconds). */
export function stopDatetime(to: Date): Date {
  return new Date(floorSecond(to).getTime() + SECOND);
}

/**
 * `--to` as given: an ISO-8601 time (with a zone, or UTC), or relative to now (`-10m`, `-90s`,
 * `-1h30m`). Undefined when it is neither.
 */
export function parsePointInTime(
  text: string,
  now: Date,
  parseSpan: (t: string) => number | undefined,
): Date | undefined {
  const t = text.trim();
  if (t.startsWith('-')) {
    const ms = parseSpan(t.slice(1));
    return ms === undefined ? undefined : new Date(now.getTime() - ms);
  }
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(t))
    return undefined;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(t) ? t : `${t}Z`;
  const d = new Date(zoned.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export const POINT_IN_TIME_FORMAT =
  'an ISO-8601 time (2026-11-29T06:36:03Z; without a zone it is UTC) or a time before now (-10m, -90s, -1h30m)';
