// Client-side encryption on the real fixture: no plaintext on any target, age by hand, restore with and without the identity.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, drbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, execIn } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { scratchDatabase } from '../fixtures/restore-by-hand.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';
import {
  createSeed,
  FIXTURE_LABEL,
  mysqlFingerprint,
  postgresFingerprint,
  type Seed,
  teardownSeed,
  volumeHashes,
} from '../fixtures/seed.js';

let seed: Seed;
let s3: S3Server;
let ws: Workspace;
let setId: string;
let setDir: string;
/** The recovery key (its identity file), a second (offline) recipient, and a key that is neither. */
let keyFile: string;
let secretKey: string;
let offlineKeyFile: string;
let wrongKeyFile: string;
/** A value in a table row, in a PostgreSQL row and in a file of a volume: found nowhere stored. */
const MARKER = `drbot-known-row-${randomBytes(8).toString('hex')}`;
const original: Record<string, string> = {};
/** Every drbot command's output, to check no secret ever appears in it. */
const outputs: CliResult[] = [];

async function run(args: string[], env?: Record<string, string>): Promise<CliResult> {
  const res = await drbot(ws, args, env);
  outputs.push(res);
  return res;
}

const withKey = () => ({ DRBOT_AGE_IDENTITY_FILE: keyFile });

function newKey(name: string): string {
  const path = join(ws.dir, name);
  execFileSync('age-keygen', ['-o', path], { stdio: 'pipe' });
  return path;
}
const recipientOf = (path: string) => execFileSync('age-keygen', ['-y', path]).toString().trim();

/** Every file below a directory (a target's tree, s3rver's store). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function scratchOrSafety(): { containers: string; volumes: string } {
  return {
    containers: docker(['ps', '-aq', '--filter', 'label=drbot.scratch']).trim(),
    volumes: docker(['volume', 'ls', '-q', '--filter', 'label=drbot.scratch']).trim(),
  };
}

function safetySets(): string[] {
  return execFileSync('find', [ws.backupDir, '-name', 'manifest.json'])
    .toString()
    .split('\n')
    .filter(Boolean)
    .filter((m) => JSON.parse(readFileSync(m, 'utf8')).purpose === 'safety');
}

/** Samples every process's argv on the host while `work` runs. */
async function watchArgv<T>(work: () => Promise<T>): Promise<{ value: T; argv: Set<string> }> {
  const argv = new Set<string>();
  let on = true;
  const sample = async () => {
    while (on) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          argv.add(readFileSync(`/proc/${pid}/cmdline`).toString().replaceAll('\0', ' ').trim());
        } catch {
          // gone meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const sampler = sample();
  try {
    return { value: await work(), argv };
  } finally {
    on = false;
    await sampler;
  }
}

beforeAll(async () => {
  seed = await createSeed();
  s3 = await startS3();
  ws = workspace({ s3 });
  keyFile = newKey('recovery.key');
  offlineKeyFile = newKey('offline.key');
  wrongKeyFile = newKey('wrong.key');
  secretKey = readFileSync(keyFile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('AGE-SECRET-KEY-1')) as string;
  // The config names both recipients and no identity: the host can write, not read back.
  const config = readFileSync(ws.configPath, 'utf8');
  writeFileSync(
    ws.configPath,
    `${config}encryption:\n  recipients:\n    - ${recipientOf(keyFile)}\n    - ${recipientOf(offlineKeyFile)}\n`,
  );
  execIn(
    'mysql-prod',
    ['mariadb', '-uroot', '-e', `INSERT INTO shop.customers VALUES (424242, '${MARKER}', 'k@example.test')`],
    { env: seed.mysqlEnv },
  );
  execIn(
    'postgres-prod',
    [
      'psql',
      '-U',
      'postgres',
      '-d',
      'inventory',
      '-c',
      `INSERT INTO items (sku, qty) VALUES ('${MARKER}', 1)`,
    ],
    { env: seed.postgresEnv },
  );
  // Among incompressible bytes, which gzip stores as they are: the plaintext .tar.gz holds the
  // marker byte for byte (checked below), so a stored file without encryption would show it.
  docker([
    'run',
    '--rm',
    '--label',
    FIXTURE_LABEL,
    '-v',
    'app-data:/v',
    BUSYBOX_IMAGE,
    'sh',
    '-c',
    `head -c 300000 /dev/urandom > /v/secret.bin && printf '%s' '${MARKER}' >> /v/secret.bin && head -c 300000 /dev/urandom >> /v/secret.bin`,
  ]);
  const res = await run(['backup', 'all', '--json']);
  expect(res.code, res.stdout + res.stderr).toBe(0);
  setId = JSON.parse(res.stdout).data.setId;
  setDir = execFileSync('find', [ws.backupDir, '-type', 'd', '-name', setId]).toString().trim();
  original.mysql = mysqlFingerprint('mysql-prod', seed.mysqlEnv);
  original.postgres = postgresFingerprint('postgres-prod', seed.postgresEnv);
  original['app-data'] = volumeHashes('app-data');
});

afterAll(async () => {
  await s3?.stop();
  teardownSeed();
  docker(['rm', '-f', 'enc-by-hand'], {});
});

describe('a backup with encryption.recipients', () => {
  it('stores only age files: no stored byte on the local directory or S3 holds the known row value', () => {
    const stored = [...filesUnder(ws.backupDir), ...filesUnder(s3.directory)];
    const artifacts = readdirSync(setDir).filter((f) => f !== 'manifest.json' && f !== 'SHA256SUMS');

    expect(artifacts.sort()).toEqual([
      'app-data.tar.gz.age',
      'config-data.tar.gz.age',
      'mysql-prod.sql.gz.age',
      'postgres-prod.sql.gz.age',
      'user-uploads.tar.gz.age',
    ]);
    for (const f of artifacts)
      expect(readFileSync(join(setDir, f)).subarray(0, 22).toString(), f).toBe('age-encryption.org/v1\n');
    // Both targets hold every artifact (s3rver keeps each object as a file of its own).
    expect(stored.filter((p) => p.includes(setId) && /\.age/.test(p)).length).toBeGreaterThanOrEqual(10);
    for (const p of stored) {
      const bytes = readFileSync(p);
      expect(bytes.includes(MARKER), p).toBe(false);
      expect(bytes.includes(seed.mysqlPassword), p).toBe(false);
    }
    // The check can fail: decrypted, the volume's .tar.gz holds the marker byte for byte.
    const gz = execFileSync('age', ['-d', '-i', keyFile, join(setDir, 'app-data.tar.gz.age')], {
      maxBuffer: 1 << 30,
    });
    expect(gz.includes(MARKER)).toBe(true);
  });

  it('SHA256SUMS covers the stored files; the manifest records the stored and the plaintext hashes', () => {
    const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: setDir }).toString();
    const manifest = JSON.parse(readFileSync(join(setDir, 'manifest.json'), 'utf8'));
    const dump = manifest.artifacts.find((a: { asset: string }) => a.asset === 'mysql-prod');
    const gz = execFileSync('age', ['-d', '-i', offlineKeyFile, join(setDir, 'mysql-prod.sql.gz.age')], {
      maxBuffer: 1 << 30,
    });

    expect(check.trim().split('\n')).toHaveLength(5);
    expect(check).not.toMatch(/FAILED/);
    expect(dump.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(join(setDir, 'mysql-prod.sql.gz.age')))
        .digest('hex'),
    );
    expect(dump.encryption).toEqual({
      format: 'age',
      recipients: [recipientOf(keyFile), recipientOf(offlineKeyFile)],
      plaintextSha256: createHash('sha256').update(gz).digest('hex'),
      plaintextSize: gz.length,
    });
  });

  it('restores by hand: age -d -i key | gunzip | mariadb, without drbot', async () => {
    const env = await scratchDatabase('enc-by-hand', 'mariadb', 'by-hand-pw');

    execFileSync(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        'age -d -i "$1" "$2" | gunzip | docker exec -i -e MYSQL_PWD "$3" mariadb -uroot',
        'restore-by-hand',
        keyFile,
        join(setDir, 'mysql-prod.sql.gz.age'),
        'enc-by-hand',
      ],
      { env: { ...process.env, ...env }, stdio: 'pipe' },
    );

    expect(mysqlFingerprint('enc-by-hand', env)).toBe(original.mysql);
    expect(
      execIn(
        'enc-by-hand',
        ['mariadb', '-uroot', '-N', '-e', 'SELECT name FROM shop.customers WHERE id = 424242'],
        {
          env,
        },
      ).trim(),
    ).toBe(MARKER);
  });
});

describe('without the identity', () => {
  it('plain verify checks the encrypted files on every target and passes', async () => {
    const res = await run(['verify', 'latest']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toMatch(/✓ run-\d+ verify set-\S+ (--deep: )?passed/);
  });

  it('restore db-only stops before touching anything and says what is missing', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DELETE FROM shop.orders WHERE id > 2500'], {
      env: seed.mysqlEnv,
    });
    const live = mysqlFingerprint('mysql-prod', seed.mysqlEnv);

    const res = await run(['restore', 'db-only', '--yes']);

    expect(res.code).not.toBe(0);
    expect(res.stdout + res.stderr).toMatch(
      /restore needs the age identity \(private key\) to decrypt the backup, and none is configured: set DRBOT_AGE_IDENTITY_FILE .* or encryption\.identityFile/,
    );
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(live);
    expect(safetySets()).toEqual([]);
    expect(scratchOrSafety()).toEqual({ containers: '', volumes: '' });
  });

  it('verify --deep and test are refused before any scratch is made', async () => {
    const deep = await run(['verify', 'latest', '--deep']);
    const drill = await run(['test']);

    for (const [what, res] of [
      ['verify --deep', deep],
      ['test', drill],
    ] as const) {
      expect(res.code, what).not.toBe(0);
      expect(res.stdout + res.stderr, what).toMatch(
        new RegExp(`${what} needs the age identity .*DRBOT_AGE_IDENTITY_FILE.*encryption\\.identityFile`),
      );
    }
    expect(scratchOrSafety()).toEqual({ containers: '', volumes: '' });
  });

  it('with a key that is not a recipient, restore stops at verify, before the safety snapshot', async () => {
    const live = mysqlFingerprint('mysql-prod', seed.mysqlEnv);

    const res = await run(['restore', 'db-only', '--yes'], { DRBOT_AGE_IDENTITY_FILE: wrongKeyFile });

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /step verify: mysql-prod\.sql\.gz\.age on local cannot be decrypted with the identity in \S+wrong\.key \(from DRBOT_AGE_IDENTITY_FILE\): the identity is not one of the file's recipients.*nothing live was touched/,
    );
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(live);
    expect(safetySets()).toEqual([]);
  });
});

describe('with the identity', () => {
  it('restore db-only brings every row back, and the argv of no process ever holds the key', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DROP DATABASE shop'], { env: seed.mysqlEnv });
    execIn('postgres-prod', ['psql', '-U', 'postgres', '-c', 'DROP DATABASE inventory'], {
      env: seed.postgresEnv,
    });

    const { value: res, argv } = await watchArgv(() => run(['restore', 'db-only', '--yes'], withKey()));

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original.mysql);
    expect(postgresFingerprint('postgres-prod', seed.postgresEnv)).toBe(original.postgres);
    // The sampler saw the decryption run (the identity's path in argv, never the key).
    expect([...argv].some((a) => a.startsWith('age -d -i') && a.includes('recovery.key'))).toBe(true);
    for (const a of argv) expect(a).not.toContain(secretKey);
    // The safety snapshot of what was replaced holds customer data: it is encrypted too.
    const [safety] = safetySets();
    expect(safety).toBeDefined();
    const safetyFiles = readdirSync(join(safety as string, '..'));
    expect(safetyFiles.filter((f) => f.includes('.sql.gz')).every((f) => f.endsWith('.age'))).toBe(true);
  });

  it('verify --deep restores every artifact into scratch, volumes too, and removes the scratch', async () => {
    const res = await run(['verify', 'latest', '--deep'], withKey());

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toMatch(/✓ run-\d+ verify set-\S+ (--deep: )?passed/);
    expect(scratchOrSafety()).toEqual({ containers: '', volumes: '' });
  });

  it('the key is in no output, run record, manifest or stored file', () => {
    const everything = [
      ...outputs.flatMap((o) => [o.stdout, o.stderr]),
      ...filesUnder(ws.backupDir).map((p) => readFileSync(p).toString('latin1')),
      ...filesUnder(s3.directory).map((p) => readFileSync(p).toString('latin1')),
      ...filesUnder(join(ws.dir, 'state')).map((p) => readFileSync(p).toString('latin1')),
    ];

    expect(outputs.length).toBeGreaterThan(5);
    for (const text of everything) {
      expect(text).not.toContain(secretKey);
      expect(text).not.toContain(secretKey.slice(16, 48));
    }
  });

  it('after host loss, the catalog is rebuilt from the plaintext manifests and an encrypted set restores', async () => {
    rmSync(join(ws.dir, 'state'), { recursive: true, force: true });
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DROP DATABASE shop'], { env: seed.mysqlEnv });

    const res = await run(['restore', 'mysql-prod', '--from', setId, '--yes'], withKey());

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stderr + res.stdout).toMatch(/rebuil/i);
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original.mysql);
    expect(res.stdout + res.stderr).not.toContain(secretKey);
  });
});
