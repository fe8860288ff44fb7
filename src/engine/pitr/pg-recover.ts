// PostgreSQL point-in-time recovery in scratch: a base backup and archived WAL replayed by the server itself.
import { PassThrough, Readable, Writable } from 'node:stream';
import { pack } from 'tar-stream';
import type { PitrLog } from '../../domain/pitr.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import { registerSecret } from '../../secrets.js';
import type { DbTarget } from '../db/types.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import {
  discardScratch,
  SCRATCH_LABEL,
  scratchLimits,
  scratchName,
  scratchPassword,
} from '../runs/scratch.js';
import { HashCounter } from '../streams/streams.js';
import { tail } from './mysql-binlog.js';
import { logTargets, readLog } from './replay.js';

/** Where the scratch keeps the recovered cluster, the WAL it replays, and the server's log. */
const ROOT = '/var/lib/drbot-pitr';
const DATA = `${ROOT}/data`;
const WAL = `${ROOT}/wal`;
const SERVER_LOG = `${ROOT}/server.log`;
/** The scratch's password variable: its server lets the local socket in without one. */
const SCRATCH_PASSWORD_ENV = 'DRBOT_SCRATCH_PASSWORD';

/**
 * Configures the extracted base for recovery and prints the server binaries' directory. A
 * fixed script: the target time comes in the environment, already in PostgreSQL's form. The
 * scratch has no network, listens on its socket only, trusts it, and archives nothing (the live
 * server's archive_command must never run from here); ssl and replication are off.
 */
const CONFIGURE = `set -eu
if command -v pg_ctl >/dev/null 2>&1; then bin=$(dirname "$(command -v pg_ctl)")
else bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1); fi
[ -x "$bin/pg_ctl" ] || { echo "no pg_ctl in this image" >&2; exit 3; }
rm -f "$DATA/postmaster.pid" "$DATA/standby.signal"
[ -f "$DATA/postgresql.conf" ] || : >"$DATA/postgresql.conf"
touch "$DATA/recovery.signal"
printf 'local all all trust\\n' >"$ROOT/hba.conf"
{
  echo "restore_command = 'cp $WAL/%f %p'"
  echo "recovery_target_action = 'promote'"
  echo "hba_file = '$ROOT/hba.conf'"
  echo "listen_addresses = ''"
  echo "unix_socket_directories = '/var/run/postgresql'"
  echo "archive_mode = 'off'"
  echo "ssl = 'off'"
  echo "hot_standby = 'off'"
  echo "primary_conninfo = ''"
  if [ -n "\${TARGET:-}" ]; then echo "recovery_target_time = '$TARGET'"; fi
} >>"$DATA/postgresql.auto.conf"
mkdir -p /var/run/postgresql
chown -R postgres:postgres "$ROOT" /var/run/postgresql
chmod 700 "$DATA"
echo "$bin"
`;

/** `2026-11-29 06:36:03.500+00`: recovery_target_time in UTC. */
export function pgTime(d: Date): string {
  return `${d.toISOString().replace('T', ' ').replace('Z', '')}+00`;
}

export interface RecoveredScratch {
  /** The scratch server, reached as the live database's user over its socket. */
  target: DbTarget;
  /** The last transaction the recovery replayed (undefined when it replayed none). */
  lastChangeAt: Date | undefined;
  /** Segments copied into the scratch. */
  segments: number;
}

/**
 * Recovers `base` + `wal` in a scratch container from the database's own image, up to `to` (or
 * to the end of the WAL), runs `use` on the promoted server, and removes the scratch whatever
 * happens. Every file is read from a target holding it and hashed against the catalog first;
 * a copy that differs stops the recovery before the server starts.
 */
export async function withRecoveredScratch<T>(
  deps: EngineDeps,
  ctx: RunContext,
  input: { asset: string; image: string; user: string; base: PitrLog; wal: PitrLog[]; to: Date | undefined },
  use: (scratch: RecoveredScratch) => Promise<T>,
): Promise<T> {
  const name = scratchName(ctx.run.id, input.asset, 'replay');
  const password = scratchPassword();
  const forget = registerSecret(password);
  try {
    await deps.runtime.runScratchContainer({
      name,
      image: input.image,
      env: [`${SCRATCH_PASSWORD_ENV}=${password}`],
      entrypoint: ['sleep', 'infinity'],
      labels: { [SCRATCH_LABEL]: ctx.run.id },
      limits: scratchLimits(deps.config),
    });
    const target: DbTarget = {
      runtime: deps.runtime,
      container: name,
      engine: 'postgres',
      user: input.user,
      password,
      asset: input.asset,
    };
    const t0 = deps.clock.monotonic();
    await copyIn(deps, target, input.base, ['sh', '-c', 'mkdir -p "$1" && tar -x -C "$1"', 'sh', DATA]);
    await run(target, ['mkdir', '-p', WAL], 'creating the WAL directory');
    await copyWalIn(deps, target, input.wal);
    const configured = await deps.runtime.exec(name, {
      cmd: ['sh', '-c', CONFIGURE],
      env: [
        `ROOT=${ROOT}`,
        `DATA=${DATA}`,
        `WAL=${WAL}`,
        ...(input.to ? [`TARGET=${pgTime(input.to)}`] : []),
      ],
    });
    if (configured.exitCode !== 0)
      throw recoveryError(
        target,
        `preparing the recovery failed (exit ${configured.exitCode})`,
        tail(configured),
      );
    const bin = configured.stdout.trim().split('\n').at(-1) as string;
    let lastEpoch: string;
    try {
      lastEpoch = await startAndPromote(deps, target, bin);
    } catch (err) {
      // No commit after the target in the WAL given: PostgreSQL stops rather than guess. Those
      // segments end at a pass's switch, after the target, so their end holds every change up
      // to the target and none after it: the recovery is finished to their end instead.
      const last = input.wal.at(-1);
      const endsAfter = input.to && last && last.lastAt.getTime() >= input.to.getTime();
      if (!endsAfter || !(await serverLogSays(deps, target, TARGET_NOT_REACHED))) throw err;
      await run(
        target,
        ['sed', '-i', '/^recovery_target_time = /d', `${DATA}/postgresql.auto.conf`],
        'dropping the target',
      );
      lastEpoch = await startAndPromote(deps, target, bin);
      ctx.info(
        `${input.asset}: the archived WAL holds no change after ${(input.to as Date).toISOString()}; recovered to the end of the segments planned, which hold every change up to it`,
        { asset: input.asset },
      );
    }
    ctx.info(
      `${input.asset}: recovered base backup ${input.base.key} and ${input.wal.length} WAL segment(s) in scratch ${name}${input.to ? ` up to ${input.to.toISOString()}` : ' to the end of the archived WAL'} in ${Math.round((deps.clock.monotonic() - t0) / 100) / 10}s`,
      { asset: input.asset },
    );
    return await use({
      target,
      lastChangeAt: lastEpoch ? new Date(Math.round(Number(lastEpoch) * 1000)) : undefined,
      segments: input.wal.length,
    });
  } finally {
    await discardScratch(deps.runtime, ctx, 'container', name);
    forget();
  }
}

/** What PostgreSQL (13 and later) says when the WAL ends before a commit after the target. */
const TARGET_NOT_REACHED = 'recovery ended before configured recovery target was reached';

async function serverLogSays(deps: EngineDeps, t: DbTarget, words: string): Promise<boolean> {
  const log = await deps.runtime
    .exec(t.container, { cmd: ['tail', '-n', '20', SERVER_LOG] })
    .catch(() => undefined);
  return log?.stdout.includes(words) ?? false;
}

/**
 * Starts the scratch server (pg_ctl -w returns once it runs: with hot_standby off, while it
 * still recovers) and waits until it has promoted itself; returns the time of the last
 * transaction replayed (epoch seconds, empty when none).
 */
async function startAndPromote(deps: EngineDeps, t: DbTarget, bin: string): Promise<string> {
  const started = await deps.runtime.exec(t.container, {
    cmd: [`${bin}/pg_ctl`, '-D', DATA, '-w', '-t', '600', '-l', SERVER_LOG, 'start'],
    user: 'postgres',
  });
  if (started.exitCode !== 0)
    throw await serverFailed(deps, t, `pg_ctl exited ${started.exitCode}`, tail(started));
  return untilPromoted(deps, t, bin);
}

/** The recovery failed: the server's own words (its log's tail) say why. */
async function serverFailed(deps: EngineDeps, t: DbTarget, what: string, fallback: string): Promise<Error> {
  const log = await deps.runtime
    .exec(t.container, { cmd: ['tail', '-n', '6', SERVER_LOG] })
    .catch(() => undefined);
  const lines = log?.stdout.trim() ?? '';
  const fatal = lines
    .split('\n')
    .filter((l) => /FATAL|PANIC/.test(l))
    .map((l) => l.replace(/^.*?(FATAL|PANIC):\s*/, ''))
    .at(-1);
  return recoveryError(
    t,
    `the scratch server did not finish recovering (${what})${fatal ? `: ${fatal}` : ''}`,
    lines || fallback,
  );
}

/**
 * Polls until the scratch server has finished its recovery and promoted itself; returns the
 * time of the last transaction it replayed (epoch seconds, empty when none). A server that
 * stops (a target never reached, a WAL segment that does not fit) fails with its log's words.
 */
async function untilPromoted(deps: EngineDeps, t: DbTarget, bin: string): Promise<string> {
  for (;;) {
    const state = await deps.runtime.exec(t.container, {
      cmd: [
        'psql',
        '--username',
        t.user,
        '--dbname',
        'postgres',
        '--no-password',
        '-At',
        '-c',
        'SELECT pg_is_in_recovery(), extract(epoch FROM pg_last_xact_replay_timestamp())',
      ],
    });
    const [inRecovery, lastEpoch] = state.stdout.trim().split('|');
    if (state.exitCode === 0 && inRecovery === 'f') return lastEpoch ?? '';
    const alive = await deps.runtime.exec(t.container, {
      cmd: [`${bin}/pg_ctl`, '-D', DATA, 'status'],
      user: 'postgres',
    });
    if (alive.exitCode !== 0) throw await serverFailed(deps, t, 'the server stopped', tail(state));
    await deps.clock.sleep(500);
  }
}

function recoveryError(t: DbTarget, message: string, detail: string): Error {
  return externalError(ErrorCode.RESTORE_FAILED, `${t.asset}: ${message}`, {
    asset: t.asset,
    step: 'replay',
    stderrTail: detail,
  });
}

async function run(t: DbTarget, cmd: string[], what: string): Promise<void> {
  const res = await t.runtime.exec(t.container, { cmd });
  if (res.exitCode !== 0) throw recoveryError(t, `${what} failed (exit ${res.exitCode})`, tail(res));
}

/**
 * Streams every segment into the scratch's WAL directory as one tar through one `tar -x` (a
 * day of segments is thousands of files): each read from a target holding it, hashed as
 * stored, decrypted, gunzipped into its tar entry, and checked against the catalog.
 */
async function copyWalIn(deps: EngineDeps, t: DbTarget, wal: PitrLog[]): Promise<void> {
  const tar = pack();
  const exec = await t.runtime.execStream(t.container, {
    cmd: ['tar', '-x', '-C', WAL],
    stdin: Readable.from(tar),
  });
  exec.stdout.resume();
  const feed = async () => {
    for (const seg of wal) {
      const from = logTargets(deps, seg)[0];
      if (!from)
        throw externalError(ErrorCode.RESTORE_FAILED, `no target holds ${seg.name} (${seg.key})`, {
          asset: t.asset,
          step: 'replay',
        });
      const hasher = new HashCounter();
      // One segment at a time in memory (wal_segment_size, 16 MiB by default): a tar entry
      // needs its size first, and a catalog rebuilt from keys does not know it.
      const chunks: Buffer[] = [];
      const collect = new Writable({
        write(c: Buffer, _e, done) {
          chunks.push(c);
          done();
        },
      });
      await readLog(deps, seg.key, await from.read(seg.key), hasher, collect, 'replaying archived WAL').catch(
        (err: unknown) => {
          throw externalError(
            ErrorCode.RESTORE_FAILED,
            `reading ${seg.key} from ${from.name}: ${describeError(err)}`,
            { asset: t.asset, step: 'replay' },
          );
        },
      );
      if (hasher.sha256 !== seg.sha256 || hasher.bytes !== seg.size)
        throw externalError(
          ErrorCode.CHECKSUM_MISMATCH,
          `${seg.key} read from ${from.name} has sha256 ${hasher.sha256.slice(0, 12)}…, the catalog ${seg.sha256.slice(0, 12)}…`,
          { asset: t.asset, step: 'replay' },
        );
      const body = Buffer.concat(chunks);
      await new Promise<void>((resolve, reject) =>
        tar.entry({ name: seg.name, size: body.length, mode: 0o600 }, body, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
    tar.finalize();
  };
  const [fed, done] = await Promise.allSettled([
    feed().catch((err: unknown) => {
      tar.destroy(err as Error);
      throw err;
    }),
    exec.done,
  ]);
  if (fed.status === 'rejected') throw fed.reason;
  const res = done.status === 'fulfilled' ? done.value : undefined;
  if (res?.exitCode !== 0)
    throw recoveryError(
      t,
      `writing ${wal.length} WAL segment(s) into the scratch ${res ? `exited ${res.exitCode}` : `failed: ${describeError((done as PromiseRejectedResult).reason)}`}`,
      res ? tail(res) : '',
    );
}

/**
 * Streams one archived file (hashed as stored, decrypted, gunzipped) into a command's stdin in
 * the scratch, and checks its sha256 against the catalog.
 */
async function copyIn(deps: EngineDeps, t: DbTarget, file: PitrLog, cmd: string[]): Promise<void> {
  const from = logTargets(deps, file)[0];
  if (!from)
    throw externalError(ErrorCode.RESTORE_FAILED, `no target holds ${file.name} (${file.key})`, {
      asset: t.asset,
      step: 'replay',
    });
  const pipe = new PassThrough();
  const hasher = new HashCounter();
  const exec = await t.runtime.execStream(t.container, { cmd, stdin: pipe });
  exec.stdout.resume();
  const [read, done] = await Promise.allSettled([
    readLog(deps, file.key, await from.read(file.key), hasher, pipe, 'replaying archived WAL'),
    exec.done,
  ]);
  if (read.status === 'rejected')
    throw externalError(
      ErrorCode.RESTORE_FAILED,
      `reading ${file.key} from ${from.name}: ${describeError(read.reason)}`,
      { asset: t.asset, step: 'replay' },
    );
  if (hasher.sha256 !== file.sha256 || hasher.bytes !== file.size)
    throw externalError(
      ErrorCode.CHECKSUM_MISMATCH,
      `${file.key} read from ${from.name} has sha256 ${hasher.sha256.slice(0, 12)}…, the catalog ${file.sha256.slice(0, 12)}…`,
      { asset: t.asset, step: 'replay' },
    );
  const res = done.status === 'fulfilled' ? done.value : undefined;
  if (res?.exitCode !== 0)
    throw recoveryError(
      t,
      `writing ${file.name} into the scratch ${res ? `exited ${res.exitCode}` : `failed: ${describeError((done as PromiseRejectedResult).reason)}`}`,
      res ? tail(res) : '',
    );
}
