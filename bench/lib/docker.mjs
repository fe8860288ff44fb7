// Docker objects of the benchmark. Everything carries BENCH_LABEL so it can be found and
// removed, even after a crash; secrets go through the environment (`-e NAME`), never argv.
import { run } from './proc.mjs';

export const BENCH_LABEL = 'drbot.fixture=bench';
export const DB_IMAGE = 'drbot-test/db:latest';
export const BUSYBOX_IMAGE = 'drbot-test/busybox:latest';

export const NAMES = {
  db: 'drbot-bench-mariadb',
  dbVolume: 'drbot-bench-mariadb-data',
  files: 'drbot-bench-files',
};

/** The policy labels that make the files volume a drbot asset. */
export const FILES_VOLUME_LABELS = ['tier=important', 'backup=daily', 'retention=1year'];

export async function docker(args, opts = {}) {
  return (await run('docker', args, opts)).stdout;
}

/** `docker exec` with env vars whose values come from `env` (only their names are in argv). */
export function execArgs(container, cmd, env = {}, interactive = false) {
  return [
    'exec',
    ...(interactive ? ['-i'] : []),
    ...Object.keys(env).flatMap((k) => ['-e', k]),
    container,
    ...cmd,
  ];
}

export async function dockerExec(container, cmd, { env = {}, input } = {}) {
  return docker(execArgs(container, cmd, env, input !== undefined), { env, input });
}

export async function imageExists(image) {
  return (await run('docker', ['image', 'inspect', image], { check: false })).code === 0;
}

async function ids(args) {
  return (await docker(args)).split('\n').filter(Boolean);
}

/**
 * Removes the bench's containers and volumes, and any container still using a bench volume
 * (a drbot anchor left by a killed run). Never touches anything else.
 */
export async function removeBenchObjects() {
  const volumes = await ids(['volume', 'ls', '-q', '--filter', `label=${BENCH_LABEL}`]);
  const containers = new Set(await ids(['ps', '-aq', '--filter', `label=${BENCH_LABEL}`]));
  for (const v of volumes)
    for (const c of await ids(['ps', '-aq', '--filter', `volume=${v}`])) containers.add(c);
  if (containers.size) await run('docker', ['rm', '-f', '-v', ...containers], { check: false });
  if (volumes.length) await run('docker', ['volume', 'rm', '-f', ...volumes], { check: false });
}

/** Polls `check` until it resolves true or the deadline passes (no fixed sleeps). */
export async function waitFor(what, check, timeoutMs = 120_000, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last.message}` : ''}`,
  );
}

export const DB_TUNING = { bufferPool: 1024 ** 3, logFile: 512 * 1024 ** 2 };

/** Starts the MariaDB container (data in its own unlabelled volume: covered by its dump). */
export async function startDatabase(password) {
  await docker(['volume', 'create', '--label', BENCH_LABEL, NAMES.dbVolume]);
  await docker(
    [
      'run',
      '-d',
      '--name',
      NAMES.db,
      '--label',
      BENCH_LABEL,
      '--log-driver',
      'none',
      '-e',
      'DB_ENGINE=mariadb',
      '-e',
      'MYSQL_ROOT_PASSWORD',
      '-v',
      `${NAMES.dbVolume}:/var/lib/mysql`,
      DB_IMAGE,
    ],
    { env: { MYSQL_ROOT_PASSWORD: password } },
  );
  const env = { MYSQL_PWD: password };
  await waitFor('MariaDB to accept connections', async () => {
    await dockerExec(NAMES.db, ['mariadb', '-uroot', '-e', 'SELECT 1'], { env });
    return true;
  });
  // Sized like a server that holds this data (the image starts with the 128 MiB defaults);
  // both settings are dynamic in MariaDB ≥ 10.9. Every contender sees the same server.
  await dockerExec(NAMES.db, ['mariadb', '-uroot'], {
    env,
    input: `SET GLOBAL innodb_buffer_pool_size = ${DB_TUNING.bufferPool};\nSET GLOBAL innodb_log_file_size = ${DB_TUNING.logFile};\n`,
  });
  return env;
}

export async function createFilesVolume() {
  await docker([
    'volume',
    'create',
    '--label',
    BENCH_LABEL,
    ...FILES_VOLUME_LABELS.flatMap((l) => ['--label', l]),
    NAMES.files,
  ]);
}
