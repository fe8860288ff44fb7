// Backup runs on the in-memory fakes: a complete set on every target, and failures that leave nothing behind.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { setDirectory } from '../../../../src/domain/layout.js';
import { engineOnFakes, type FakeWorld, SHOP } from '../../../fakes/engine-on-fakes.js';
import { tarFiles } from '../../../fakes/fake-tar.js';

let world: FakeWorld | undefined;
function shop(): FakeWorld {
  world = engineOnFakes();
  return world;
}
afterEach(() => {
  // A command the fakes do not know means the engine changed what it sends: look at it.
  expect(world?.runtime.unknown ?? []).toEqual([]);
  world?.close();
  world = undefined;
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('engine.backup on fakes', () => {
  it('writes both artifacts, SHA256SUMS and manifest.json to both targets and records the run stage by stage', async () => {
    const { engine, local, s3, clock, runtime } = shop();

    const out = await engine.backup({ target: 'all', requester: 'alice' });

    expect(out.status).toBe('succeeded');
    const dir = setDirectory(out.setId, clock.now());
    for (const t of [local, s3]) {
      expect(await t.list(`${dir}/`)).toEqual(
        ['SHA256SUMS', 'main.sql.gz', 'manifest.json', 'uploads.tar.gz'].map((f) => `${dir}/${f}`),
      );
      const sums = (t.object('SHA256SUMS') as Buffer).toString('utf8').trim().split('\n');
      expect(sums.sort()).toEqual(
        ['main.sql.gz', 'uploads.tar.gz'].map((f) => `${sha256(t.object(f) as Buffer)}  ${f}`),
      );
    }
    const manifest = JSON.parse((local.object('manifest.json') as Buffer).toString('utf8'));
    expect(manifest.setId).toBe(out.setId);
    expect(
      manifest.artifacts.map((a: { asset: string; kind: string; engineVersion: string | null }) => [
        a.asset,
        a.kind,
        a.engineVersion,
      ]),
    ).toEqual([
      ['main', 'mysql-dump', 'mariadb 11.4.2-MariaDB-ubu2404'],
      ['uploads', 'volume-tar', null],
    ]);
    const dump = gunzipSync(local.object('main.sql.gz') as Buffer).toString('utf8');
    expect(dump).toContain(`INSERT INTO \`content\` VALUES ('${SHOP.content}');`);
    expect(dump.trimEnd()).toMatch(/\n-- Dump completed on [\d-]+ [\d:]+$/);
    expect(await tarFiles(local.object('uploads.tar.gz') as Buffer)).toEqual(SHOP.files);
    expect(runtime.ops.join('\n')).not.toContain(SHOP.password);
    const { run, events } = engine.run(out.run.id);
    expect(run.status).toBe('succeeded');
    expect(events.filter((e) => e.type === 'stage-start').map((e) => e.stage)).toEqual([
      'inventory',
      'dump',
      'verify',
      'prune',
      'report',
    ]);
    expect(engine.getSet(out.setId)?.status).toBe('complete');
  });

  it('fails the run with the dump tool’s exit code and stderr when the dump dies, and leaves no file anywhere', async () => {
    const { engine, local, s3, runtime } = shop();
    runtime.failExec(SHOP.dbContainer, 'mariadb-dump', {
      exitCode: 2,
      stderr:
        'mariadb-dump: Error 2013: Lost connection to server during query when dumping table `content`\n',
      stdoutBytes: 900,
    });

    const out = await engine.backup({ target: 'all', requester: 'alice' });

    expect(out.status).toBe('failed');
    expect(out.failures).toHaveLength(1);
    expect(out.failures[0]).toBe(
      'asset main, step dump: mariadb-dump in container db exited with code 2 — stderr: mariadb-dump: Error 2013: Lost connection to server during query when dumping table `content`',
    );
    expect(engine.run(out.run.id).run.error).toContain('exited with code 2');
    expect(engine.getSet(out.setId)?.status).toBe('failed');
    expect([...local.objects.keys(), ...s3.objects.keys()]).toEqual([]);
  });

  it('aborts the other targets’ writes of an artifact when one target’s write fails, and keeps no file', async () => {
    const { engine, local, s3 } = shop();
    s3.failWrites('main.sql.gz');

    const out = await engine.backup({ target: 'all', requester: 'alice' });

    expect(out.status).toBe('failed');
    expect(out.failures.join(' | ')).toMatch(
      /asset main, step dump: writing to s3 failed: .*connection reset/,
    );
    const written = local.ops.find((o) => o.op === 'write' && o.key.endsWith('/main.sql.gz'));
    expect(local.ops).toContainEqual({ op: 'abort', key: written?.key });
    expect(local.files('commit')).not.toContain('main.sql.gz');
    expect([...local.objects.keys(), ...s3.objects.keys()]).toEqual([]);
    expect(engine.getSet(out.setId)?.status).toBe('failed');
  });
});
