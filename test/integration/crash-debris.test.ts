// drbot killed (SIGKILL) mid-backup and mid-restore: the next command removes every thing the dead run left.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, spawnDrbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, execIn, waitFor } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { removeS3Dir, type S3Server, startS3 } from '../fixtures/s3.js';
import { openUploads } from '../fixtures/s3-multipart.js';
import { createSeed, type Seed, teardownSeed } from '../fixtures/seed.js';

let seed: Seed;
let s3: S3Server;
let ws: Workspace;

/** A dump of some 40 MB, so that it is still uploading when drbot is killed. */
const BULK_SQL = `
CREATE DATABASE bulk;
USE bulk;
CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(255));
INSERT INTO t SELECT seq, CONCAT(MD5(seq), MD5(seq * 3), MD5(seq * 7), MD5(seq * 11)) FROM seq_1_to_300000;
`;

/** config-data: no container mounts it, so only drbot's anchors can hold it in use. */
const VOLUME = 'config-data';

beforeAll(async () => {
  seed = await createSeed();
  execIn('mysql-prod', ['mariadb', '-uroot'], { input: BULK_SQL, env: seed.mysqlEnv });
  // Incompressible bytes: archiving the volume takes seconds, time to kill drbot in the middle.
  docker([
    'run',
    '--rm',
    '-v',
    `${VOLUME}:/v`,
    BUSYBOX_IMAGE,
    'dd',
    'if=/dev/urandom',
    'of=/v/blob.bin',
    'bs=1M',
    'count=160',
  ]);
  s3 = await startS3('drbot-debris', undefined, { multipartUploads: true });
  ws = workspace({
    extra: {
      storage: {
        local: { dir: './backups' },
        s3: {
          bucket: s3.bucket,
          prefix: 'drbot',
          region: 'us-east-1',
          endpoint: s3.endpoint,
          forcePathStyle: true,
          // S3's smallest part: a multipart upload is open after the first 5 MiB.
          partSizeMiB: 5,
        },
      },
    },
  });
});

afterAll(async () => {
  teardownSeed();
  await s3?.stop();
  if (s3) removeS3Dir(s3);
});

const lines = (out: string) => out.split('\n').filter(Boolean);

/** Everything an interrupted run can leave behind, where it would be. */
function leftovers() {
  return {
    partialFiles: lines(execFileSync('find', [ws.backupDir, '-name', '*.partial']).toString()),
    multipartUploads: openUploads(s3.directory, s3.bucket).map((u) => u.key),
    anchors: lines(docker(['ps', '-aq', '--filter', 'label=drbot.anchor'])),
    scratchContainers: lines(docker(['ps', '-aq', '--filter', 'label=drbot.scratch'])),
    scratchVolumes: lines(docker(['volume', 'ls', '-q', '--filter', 'label=drbot.scratch'])),
  };
}

const NOTHING_LEFT = {
  partialFiles: [],
  multipartUploads: [],
  anchors: [],
  scratchContainers: [],
  scratchVolumes: [],
};

const hasPartialFile = () => existsSync(ws.backupDir) && leftovers().partialFiles.length > 0;
const hasStoredPart = () => openUploads(s3.directory, s3.bucket).some((u) => u.parts > 0);
const hasAnchor = () => leftovers().anchors.length > 0;

/**
 * Anchors name no run: one counts as left behind when it was made before the clean-up began
 * (and before any live run), and the engine dates containers to the second. The next command
 * is started a little after the kill, as a restart would be.
 */
const pastAnchorDating = () => new Promise((resolve) => setTimeout(resolve, 3_000));

describe('a clean-up beside a live run', () => {
  it('leaves alone the partial files, uploads and anchors of a run another drbot process is doing', async () => {
    const live = spawnDrbot(ws, ['backup', VOLUME]);
    let liveEnded = false;
    void live.result.finally(() => (liveEnded = true));
    await waitFor(
      'the backup to hold an anchor, a partial file and an open upload',
      () => hasAnchor() && hasPartialFile() && hasStoredPart(),
      120_000,
      50,
    );

    const beside = await drbot(ws, ['runs', '1']);
    const endedBeforeIt = liveEnded;
    const backup = await live.result;

    expect(beside.code, beside.stderr).toBe(0);
    expect(endedBeforeIt).toBe(false);
    expect(beside.stderr).not.toMatch(/removed \d+ thing/);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    expect(leftovers()).toEqual(NOTHING_LEFT);
  });
});

describe('drbot killed in the middle of a backup', () => {
  it('while the dump uploads to the local directory and S3: the next command removes the partial files and aborts the upload', async () => {
    const { child, result } = spawnDrbot(ws, ['backup', 'mysql-prod']);
    await waitFor(
      'a partial file and a multipart upload with parts',
      () => hasPartialFile() && hasStoredPart(),
      120_000,
      20,
    );
    child.kill('SIGKILL');
    await result;
    const left = leftovers();

    const next = await drbot(ws, ['runs', '1']);

    expect(left.partialFiles).toEqual([expect.stringMatching(/mysql-prod\.sql\.gz\.partial$/)]);
    expect(left.multipartUploads).toEqual([expect.stringMatching(/^drbot\/.*\/mysql-prod\.sql\.gz$/)]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/run-\d+ \(backup mysql-prod\) was interrupted/);
    expect(next.stderr).toMatch(/removed \d+ thing\(s\) that stopped runs left behind/);
    expect(next.stderr).toMatch(/removed local: \S+\/mysql-prod\.sql\.gz\.partial \(\d+ bytes\)/);
    expect(next.stderr).toMatch(/removed s3: multipart upload of drbot\/\S+\/mysql-prod\.sql\.gz begun /);
    expect(leftovers()).toEqual(NOTHING_LEFT);
  });

  it('while a volume anchor holds the volume: the next command removes the anchor, the partial files and the upload', async () => {
    const { child, result } = spawnDrbot(ws, ['backup', VOLUME]);
    await waitFor(
      'an anchor and a multipart upload with parts',
      () => hasAnchor() && hasStoredPart(),
      120_000,
      50,
    );
    child.kill('SIGKILL');
    await result;
    const left = leftovers();
    const holding = lines(docker(['ps', '-aq', '--filter', `volume=${VOLUME}`]));
    await pastAnchorDating();

    const next = await drbot(ws, ['status']);

    expect(left.anchors).toHaveLength(1);
    expect(holding).toEqual(left.anchors);
    expect(left.partialFiles.length).toBeGreaterThan(0);
    expect(next.stderr).toMatch(
      /removed container \S+ \(anchor of volume config-data, which it kept in use\)/,
    );
    expect(leftovers()).toEqual(NOTHING_LEFT);
    expect(lines(docker(['ps', '-aq', '--filter', `volume=${VOLUME}`]))).toEqual([]);
  });
});

describe('drbot killed in the middle of a restore', () => {
  it('while the backup is staged in a scratch volume: the next command removes the scratch volume and anchors', async () => {
    const { child, result } = spawnDrbot(ws, ['restore', VOLUME, '--yes']);
    await waitFor(
      'the staging volume to be filled through an anchor',
      () => leftovers().scratchVolumes.length > 0 && hasAnchor(),
      180_000,
      50,
    );
    child.kill('SIGKILL');
    await result;
    const left = leftovers();
    await pastAnchorDating();

    const next = await drbot(ws, ['runs', '1']);

    expect(left.scratchVolumes).toEqual([expect.stringMatching(/^drbot-restore-run-\d+-config-data-/)]);
    expect(left.anchors.length).toBeGreaterThan(0);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/run-\d+ \(restore config-data\) was interrupted/);
    expect(next.stderr).toMatch(
      /removed volume drbot-restore-run-\d+-config-data-\S+ \(scratch of run-\d+\)/,
    );
    expect(leftovers()).toEqual(NOTHING_LEFT);
  });
});
