// What drbot asks a PostgreSQL server for WAL archiving, through the server's own tools in its container.
import type { Readable } from 'node:stream';
import { ErrorCode, externalError } from '../../errors.js';
import type { ExecResult } from '../../ports/container-runtime.js';
import type { DbTarget } from '../db/types.js';
import { tail } from './mysql-binlog.js';

/** The server settings streaming WAL with `pg_receivewal` needs. */
export interface WalSettings {
  walLevel: string;
  maxWalSenders: number;
  maxReplicationSlots: number;
  /** `wal_segment_size` in bytes. */
  segmentBytes: number;
  /** The user drbot connects as may open replication connections (REPLICATION or superuser). */
  canReplicate: boolean;
}

/** The password goes through the exec environment, never argv. */
const passwordEnv = (t: DbTarget) => [`PGPASSWORD=${t.password}`];
const connArgs = (t: DbTarget) => ['--username', t.user, '--no-password'];

/** Runs fixed SQL (never built from input) and returns its `|`-separated rows. */
export async function pgQuery(t: DbTarget, sql: string): Promise<string[][]> {
  const res = await t.runtime.exec(t.container, {
    cmd: ['psql', ...connArgs(t), '--dbname', 'postgres', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    env: passwordEnv(t),
  });
  if (res.exitCode !== 0)
    throw externalError(
      ErrorCode.DOCKER_FAILED,
      `psql in ${t.container} failed (exit ${res.exitCode}) running ${sql.split(/\s+/).slice(0, 3).join(' ')}`,
      { asset: t.asset, step: 'pitr', stderrTail: tail(res) },
    );
  return res.stdout
    .split('\n')
    .filter((l) => l.length)
    .map((l) => l.split('|'));
}

export async function walSettings(t: DbTarget): Promise<WalSettings> {
  const [row] = await pgQuery(
    t,
    "SELECT current_setting('wal_level'), current_setting('max_wal_senders'), current_setting('max_replication_slots'), (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'), (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)",
  );
  return {
    walLevel: row?.[0] ?? '',
    maxWalSenders: Number(row?.[1] ?? 0),
    maxReplicationSlots: Number(row?.[2] ?? 0),
    segmentBytes: Number(row?.[3] ?? 0) || 16 * 1024 * 1024,
    canReplicate: row?.[4] === 't',
  };
}

/**
 * What keeps a server from WAL archiving, as the exact setting to change; undefined when
 * `pg_receivewal` can stream from it (PostgreSQL's defaults since version 10 allow it).
 */
export function walProblem(container: string, user: string, s: WalSettings): string | undefined {
  if (s.walLevel !== 'replica' && s.walLevel !== 'logical')
    return `wal_level is ${s.walLevel} on ${container}: set wal_level = replica (in postgresql.conf, or -c wal_level=replica) and restart the server`;
  if (s.maxWalSenders < 1)
    return `max_wal_senders is 0 on ${container}: set max_wal_senders = 10 (the default) and restart the server`;
  if (s.maxReplicationSlots < 1)
    return `max_replication_slots is 0 on ${container}: set max_replication_slots = 10 (the default) and restart the server`;
  if (!s.canReplicate)
    return `the user ${user} on ${container} may not stream WAL: ALTER ROLE ${user} REPLICATION (and allow it a \`replication\` line in pg_hba.conf)`;
  return undefined;
}

/** The replication slot that keeps the server's WAL until drbot has it: one per asset. */
export function slotName(asset: string): string {
  const safe = asset
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40);
  let h = 0;
  for (const c of asset) h = (h * 31 + (c.codePointAt(0) ?? 0)) >>> 0;
  return `drbot_${safe}_${h.toString(16)}`;
}

/** Where `pg_receivewal` writes inside the container until a pass has shipped the segments. */
export const receiveDir = (slot: string) => `/tmp/drbot-wal/${slot}`;

/** Creates the asset's replication slot if it does not exist (WAL is kept for it from then on). */
export async function ensureSlot(t: DbTarget, slot: string): Promise<void> {
  const res = await t.runtime.exec(t.container, {
    cmd: ['pg_receivewal', ...connArgs(t), `--slot=${slot}`, '--create-slot', '--if-not-exists'],
    env: passwordEnv(t),
  });
  if (res.exitCode !== 0)
    throw externalError(
      ErrorCode.ARCHIVE_FAILED,
      `cannot create the replication slot ${slot} in ${t.container} (pg_receivewal exited ${res.exitCode})`,
      { asset: t.asset, step: 'pitr', stderrTail: tail(res) },
    );
}

/** An LSN (`0/9000210`) as a number of bytes. */
export function lsnBytes(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return Number.parseInt(hi ?? '0', 16) * 0x1_0000_0000 + Number.parseInt(lo ?? '0', 16);
}

export function lsnText(bytes: number): string {
  return `${Math.floor(bytes / 0x1_0000_0000)
    .toString(16)
    .toUpperCase()}/${(bytes % 0x1_0000_0000).toString(16).toUpperCase()}`;
}

/**
 * Closes the current WAL segment (`pg_switch_wal()`) and returns where the closed segments end
 * (the next segment boundary; the switch point itself when nothing was written since the last
 * switch) and the server's time just after the switch: every change before it is in them.
 */
export async function switchWal(t: DbTarget, segmentBytes: number): Promise<{ end: number; at: Date }> {
  const [row] = await pgQuery(t, 'SELECT pg_switch_wal(), extract(epoch FROM clock_timestamp())');
  const lsn = lsnBytes(row?.[0] ?? '0/0');
  const end = lsn % segmentBytes === 0 ? lsn : Math.ceil(lsn / segmentBytes) * segmentBytes;
  await nudgeWal(t);
  return { end, at: new Date(Math.round(Number(row?.[1] ?? 0) * 1000)) };
}

/**
 * Writes one tiny WAL record (a non-transactional logical message, ignored by recovery) after
 * a position `pg_receivewal --endpos` waits for: it stops as soon as WAL beyond its end position
 * arrives, and on a quiet server it would otherwise wait for the next keepalive (seconds). A
 * user not allowed to write one only makes the pass slower.
 */
export async function nudgeWal(t: DbTarget): Promise<void> {
  await pgQuery(t, "SELECT pg_logical_emit_message(false, 'drbot', 'archive pass')").catch(() => undefined);
}

/**
 * Streams the WAL the slot holds up to `end` into the receive directory with the server's own
 * `pg_receivewal` (`--endpos`, `--synchronous`: the slot moves on only once a segment is
 * written), and returns the complete segment files there, oldest first.
 */
export async function receiveWal(
  t: DbTarget,
  slot: string,
  end: number,
  timeoutSeconds: number,
): Promise<string[]> {
  const dir = receiveDir(slot);
  const mk = await t.runtime.exec(t.container, { cmd: ['mkdir', '-p', dir] });
  if (mk.exitCode !== 0)
    throw externalError(ErrorCode.ARCHIVE_FAILED, `cannot create ${dir} in ${t.container}`, {
      asset: t.asset,
      step: 'pitr',
      stderrTail: tail(mk),
    });
  const res = await t.runtime.exec(t.container, {
    cmd: [
      'timeout',
      String(timeoutSeconds),
      'pg_receivewal',
      ...connArgs(t),
      `--slot=${slot}`,
      '--directory',
      dir,
      `--endpos=${lsnText(end)}`,
      '--no-loop',
      '--synchronous',
    ],
    env: passwordEnv(t),
  });
  if (res.exitCode !== 0)
    throw externalError(
      ErrorCode.ARCHIVE_FAILED,
      res.exitCode === 124
        ? `pg_receivewal in ${t.container} did not reach ${lsnText(end)} within ${timeoutSeconds}s`
        : `pg_receivewal in ${t.container} exited ${res.exitCode}`,
      { asset: t.asset, step: 'pitr', stderrTail: tail(res) },
    );
  return receivedSegments(t, slot);
}

/** The complete WAL segments in the receive directory, oldest first. */
export async function receivedSegments(t: DbTarget, slot: string): Promise<string[]> {
  const res = await t.runtime.exec(t.container, { cmd: ['ls', '-1', '--', receiveDir(slot)] });
  if (res.exitCode !== 0)
    throw externalError(ErrorCode.ARCHIVE_FAILED, `cannot list ${receiveDir(slot)} in ${t.container}`, {
      asset: t.asset,
      step: 'pitr',
      stderrTail: tail(res),
    });
  return res.stdout
    .split('\n')
    .filter((n) => /^[0-9A-F]{24}$/.test(n))
    .sort();
}

/** A received segment's bytes. */
export async function readSegment(
  t: DbTarget,
  slot: string,
  name: string,
): Promise<{ stream: Readable; done: Promise<ExecResult> }> {
  if (!/^[0-9A-F]{24}$/.test(name))
    throw externalError(ErrorCode.ARCHIVE_FAILED, `unexpected WAL segment name '${name}'`, {
      asset: t.asset,
      step: 'pitr',
    });
  const exec = await t.runtime.execStream(t.container, { cmd: ['cat', '--', `${receiveDir(slot)}/${name}`] });
  return { stream: exec.stdout, done: exec.done };
}

/** Deletes shipped segments from the receive directory. */
export async function dropSegments(t: DbTarget, slot: string, names: string[]): Promise<void> {
  const safe = names.filter((n) => /^[0-9A-F]{24}$/.test(n));
  if (!safe.length) return;
  await t.runtime.exec(t.container, {
    cmd: ['rm', '-f', '--', ...safe.map((n) => `${receiveDir(slot)}/${n}`)],
  });
}

/** Where the WAL is now: its segment's name and the server's time. */
export async function walPosition(t: DbTarget): Promise<{ lsn: number; segment: string; at: Date }> {
  const [row] = await pgQuery(
    t,
    'SELECT pg_current_wal_lsn(), pg_walfile_name(pg_current_wal_lsn()), extract(epoch FROM clock_timestamp())',
  );
  return {
    lsn: lsnBytes(row?.[0] ?? '0/0'),
    segment: row?.[1] ?? '',
    at: new Date(Math.round(Number(row?.[2] ?? 0) * 1000)),
  };
}

/**
 * A physical base backup as one tar on stdout (`pg_basebackup -Ft -D - -X none`): the WAL it
 * needs to become consistent is archived by the passes, through the slot.
 */
export async function baseBackupStream(
  t: DbTarget,
): Promise<{ stream: Readable; done: Promise<ExecResult> }> {
  const exec = await t.runtime.execStream(t.container, {
    cmd: [
      'pg_basebackup',
      ...connArgs(t),
      '--pgdata=-',
      '--format=tar',
      '--wal-method=none',
      '--checkpoint=fast',
      '--label=drbot',
    ],
    env: passwordEnv(t),
  });
  return { stream: exec.stdout, done: exec.done };
}

/**
 * How much WAL the asset's slot keeps on the server (bytes from its restart point to now);
 * undefined when the slot does not exist or the server cannot be asked. The slot name is made
 * of `[a-z0-9_]` only (slotName), so it is safe inside the fixed query.
 */
export async function slotRetainedBytes(t: DbTarget, slot: string): Promise<number | undefined> {
  if (!/^[a-z0-9_]+$/.test(slot)) return undefined;
  const rows = await pgQuery(
    t,
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = '${slot}'`,
  ).catch(() => undefined);
  const v = Number(rows?.[0]?.[0]);
  return rows?.length && Number.isFinite(v) ? v : undefined;
}
