import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDirectory } from '../../src/domain/layout.js';
import { filesBelow } from '../fixtures/backup-dir.js';
import { docker, removeByLabel } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';

const LABEL = 'drbot.fixture=retention';
const DAY = 24 * 3600 * 1000;
let s3: S3Server;
let h: EngineHarness;

async function s3Keys(): Promise<string[]> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'drbot/' }));
  client.destroy();
  return (res.Contents ?? []).map((o) => (o.Key as string).slice('drbot/'.length)).sort();
}

function localKeys(): string[] {
  return filesBelow(h.backupDir);
}

beforeAll(async () => {
  removeByLabel(LABEL);
  docker([
    'volume',
    'create',
    '--label',
    LABEL,
    '--label',
    'tier=important',
    '--label',
    'retention=30days',
    'ret-short',
  ]);
  docker([
    'volume',
    'create',
    '--label',
    LABEL,
    '--label',
    'tier=critical',
    '--label',
    'retention=7years',
    'ret-long',
  ]);
  docker([
    'run',
    '--rm',
    '-v',
    'ret-short:/a',
    '-v',
    'ret-long:/b',
    BUSYBOX_IMAGE,
    'sh',
    '-c',
    'echo short > /a/f; echo long > /b/f',
  ]);
  s3 = await startS3();
  h = engineHarness({ s3 });
});

afterAll(async () => {
  h?.app.close();
  await s3?.stop();
  removeByLabel(LABEL);
});

describe('retention by recorded set time, on every target', () => {
  const now = Date.now();
  const sets: Record<string, { id: string; at: Date }> = {};

  async function backupAt(at: Date, target: string): Promise<{ id: string; at: Date; prune: unknown }> {
    h.clock.set(at);
    const o = await h.app.engine.backup({ target, requester: 'test' });
    expect(o.status, o.failures.join('; ')).toBe('succeeded');
    return { id: o.setId, at, prune: o.prune };
  }

  it('refuses to prune an asset whose newest backup is missing on a target, deleting nothing of it', async () => {
    sets.A = await backupAt(new Date(now - 400 * DAY), 'ret-short');
    // Ten days later, A is not yet past its 30 days: this backup's prune leaves it.
    sets.B = await backupAt(new Date(now - 390 * DAY), 'all');
    const bShort = `${setDirectory(sets.B.id, sets.B.at)}/ret-short.tar.gz`;
    rmSync(join(h.backupDir, bShort)); // someone deleted the newest copy by hand

    const c = await backupAt(new Date(now), 'ret-long');

    const report = c.prune as { refused: string[]; deleted: unknown[] };
    expect(report.refused).toHaveLength(1);
    expect(report.refused[0]).toMatch(
      new RegExp(
        `prune of ret-short refused: it would leave no good backup \\(${sets.B.id}/ret-short.tar.gz is missing on local\\)`,
      ),
    );
    expect(report.deleted).toEqual([]);
    const aShort = `${setDirectory(sets.A.id, sets.A.at)}/ret-short.tar.gz`;
    expect(localKeys()).toContain(aShort);
    expect(await s3Keys()).toContain(aShort);
  });

  it('deletes expired artifacts from every target once a newer good backup exists, and keeps the last good set', async () => {
    const d = await backupAt(new Date(now + 60_000), 'ret-short');

    const report = d.prune as { refused: string[]; deleted: Array<{ setId: string; asset: string }> };
    expect(report.refused).toEqual([]);
    expect(report.deleted.map((x) => `${x.setId}:${x.asset}`).sort()).toEqual(
      [`${sets.A?.id}:ret-short`, `${sets.B?.id}:ret-short`].sort(),
    );
    const aDir = setDirectory(sets.A?.id as string, sets.A?.at as Date);
    const bDir = setDirectory(sets.B?.id as string, sets.B?.at as Date);
    const dDir = setDirectory(d.id, d.at);
    for (const keys of [localKeys(), await s3Keys()]) {
      // Set A held only ret-short: gone entirely, manifest included.
      expect(keys.filter((k) => k.startsWith(aDir))).toEqual([]);
      // Set B keeps ret-long, with a manifest that no longer lists ret-short.
      expect(keys.filter((k) => k.startsWith(bDir)).sort()).toEqual([
        `${bDir}/SHA256SUMS`,
        `${bDir}/manifest.json`,
        `${bDir}/ret-long.tar.gz`,
      ]);
      // The newest good set of ret-short survives.
      expect(keys).toContain(`${dDir}/ret-short.tar.gz`);
    }
    expect(existsSync(join(h.backupDir, aDir.split('/').slice(0, 2).join('/')))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(h.backupDir, bDir, 'manifest.json'), 'utf8'));
    expect(manifest.artifacts.map((a: { asset: string }) => a.asset)).toEqual(['ret-long']);
    expect(manifest.pruned.map((a: { asset: string }) => a.asset)).toEqual(['ret-short']);
    execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(h.backupDir, bDir) });
    const status = await h.app.engine.status();
    expect(status.assets.find((a) => a.asset.name === 'ret-short')?.newest?.setId).toBe(d.id);
  });

  it('never prunes the newest set of an asset, however old', async () => {
    h.clock.set(new Date(now + 10 * 365 * DAY));

    const o = await h.app.engine.backup({ target: 'ret-long', requester: 'test' });

    // ret-short's newest set (D) is years past its 30 days but stays; older ret-long sets go.
    expect(o.prune?.deleted.map((x) => x.asset).sort()).toEqual(['ret-long', 'ret-long']);
    const keys = localKeys();
    expect(keys.filter((k) => k.endsWith('ret-short.tar.gz'))).toHaveLength(1);
    expect(keys.filter((k) => k.endsWith('ret-long.tar.gz'))).toHaveLength(1);
  });
});
