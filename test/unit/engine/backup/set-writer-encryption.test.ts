// writeSet with encryption: artifacts stored as age files, SHA256SUMS over the stored bytes, plaintext hash in the manifest.
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { buildConfig } from '../../../../src/config.js';
import type { Asset } from '../../../../src/domain/assets.js';
import { writeSet } from '../../../../src/engine/backup/set-writer.js';
import { buildManifest, parseManifest, writeManifest } from '../../../../src/engine/catalog/manifest.js';
import type { EngineDeps } from '../../../../src/engine/deps.js';
import { RunContext } from '../../../../src/engine/runs/run-context.js';
import { createLogger } from '../../../../src/log.js';
import { systemClock } from '../../../../src/ports/clock.js';
import type { SetRecord } from '../../../../src/ports/state-store.js';
import { FakeRuntime } from '../../../fakes/fake-runtime.js';
import { FakeTarget } from '../../../fakes/fake-target.js';

const MARKER = 'customer-row-4242-plaintext-marker';

/**
 * Incompressible bytes around the marker: gzip stores such blocks as they are, so the marker is
 * in the plaintext .gz byte for byte, and a stored file without encryption would show it.
 */
const CONTENT = Buffer.concat([randomBytes(200_000), Buffer.from(MARKER), randomBytes(200_000)]);

const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function encryptedBackup(tool: 'js' | 'age') {
  const key = await generateIdentity();
  const recipient = await identityToRecipient(key);
  const runtime = new FakeRuntime();
  runtime.addVolume('files', { labels: { tier: 'important' }, files: { 'a.bin': CONTENT } });
  const targets = [new FakeTarget('local'), new FakeTarget('s3')];
  const store = openSqliteStore(':memory:');
  closers.push(() => store.close());
  const config = buildConfig({
    backup: { compressor: 'zlib' },
    encryption: { recipients: [recipient], tool },
  });
  const log = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'silent' });
  const deps: EngineDeps = { config, runtime, targets, store, clock: systemClock, log };
  const run = store.createRun({
    kind: 'backup',
    requester: 'test',
    target: 'all',
    status: 'running',
    at: new Date(),
  });
  const ctx = new RunContext(run, store, systemClock, log);
  const asset = { kind: 'volume', name: 'files', volume: 'files', labels: { tier: 'important' }, usedBy: [] };
  const written = await writeSet(deps, ctx, {
    assets: [asset as unknown as Asset],
    purpose: 'safety',
    at: new Date(),
    targets,
    phase: (_name, fn) => fn(log),
  });
  return { key, recipient, targets, store, written };
}

describe('writeSet with encryption.recipients', () => {
  for (const tool of ['js', 'age'] as const) {
    it(`${tool}: stores <asset>.tar.gz.age with no plaintext; SHA256SUMS covers it, the manifest has both hashes`, async () => {
      const { key, recipient, targets, written } = await encryptedBackup(tool);

      const local = targets[0] as FakeTarget;
      const stored = local.object('files.tar.gz.age') as Buffer;
      const d = new Decrypter();
      d.addIdentity(key);
      const gz = Buffer.from(await d.decrypt(stored));
      const manifest = parseManifest((local.object('manifest.json') as Buffer).toString());
      const sums = (local.object('SHA256SUMS') as Buffer).toString();

      expect(written.artifacts.map((a) => a.file)).toEqual(['files.tar.gz.age']);
      for (const t of targets)
        for (const [k, body] of t.objects) {
          expect(body.includes(MARKER), `${t.name}:${k}`).toBe(false);
          expect(body.toString().includes(key), `${t.name}:${k}`).toBe(false);
        }
      expect(gz.includes(MARKER)).toBe(true);
      expect(gunzipSync(gz).includes(MARKER)).toBe(true);
      expect(sums).toBe(`${sha256(stored)}  files.tar.gz.age\n`);
      expect(manifest.artifacts[0]).toMatchObject({
        file: 'files.tar.gz.age',
        sha256: sha256(stored),
        size: stored.length,
        encryption: {
          format: 'age',
          recipients: [recipient],
          plaintextSha256: sha256(gz),
          plaintextSize: gz.length,
        },
      });
      expect((targets[1] as FakeTarget).object('files.tar.gz.age')?.equals(stored)).toBe(true);
    });
  }

  it('a manifest rewritten from the catalog (retention) keeps the plaintext hash the first one recorded', async () => {
    const { targets, store, written } = await encryptedBackup('js');
    const local = targets[0] as FakeTarget;
    const before = parseManifest((local.object('manifest.json') as Buffer).toString());
    const set = store.getSet(written.setId) as SetRecord;

    await writeManifest(local, set, buildManifest(set, set.completedAt));

    const after = parseManifest((local.object('manifest.json') as Buffer).toString());
    expect(after.artifacts[0]?.encryption).toEqual(before.artifacts[0]?.encryption);
    expect(after.artifacts[0]?.encryption?.plaintextSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
