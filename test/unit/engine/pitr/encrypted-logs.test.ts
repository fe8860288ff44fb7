// Archived binary logs under encryption: stored as age files (.gz.age), read back only with the identity.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../../src/config.js';
import { logKey } from '../../../../src/domain/pitr.js';
import { readLog } from '../../../../src/engine/pitr/replay.js';
import { encrypterFor } from '../../../../src/engine/streams/age.js';
import { HashCounter } from '../../../../src/engine/streams/streams.js';

const collector = () => {
  const chunks: Buffer[] = [];
  return {
    chunks,
    stream: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
    }),
  };
};

async function encrypted(recipient: string, plain: Buffer): Promise<Buffer> {
  const e = (await encrypterFor('js', [recipient]))();
  const out = collector();
  await Promise.all([pipeline(Readable.from([gzipSync(plain)]), e.stream, out.stream), e.done]);
  return Buffer.concat(out.chunks);
}

describe('encrypted archived logs', () => {
  it('are keyed .gz.age, and read back through the identity to the log bytes', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const dir = mkdtempSync(join(tmpdir(), 'drbot-logs-'));
    writeFileSync(join(dir, 'key.txt'), `${identity}\n`);
    const config = buildConfig({ encryption: { recipients: [recipient], tool: 'js' } });
    const log = Buffer.from('\xfebin fake binary log events'.repeat(1000), 'latin1');
    const stored = await encrypted(recipient, log);
    const key = logKey('db', 'mysql-bin.000007', new Date('2026-11-29T10:00:00Z'), true);

    const out = collector();
    const hasher = new HashCounter();
    await readLog(
      { config, env: { DRBOT_AGE_IDENTITY_FILE: join(dir, 'key.txt') } },
      key,
      Readable.from([stored]),
      hasher,
      out.stream,
      'replaying',
    );

    expect(key).toBe('pitr/db/20261129T100000Z-mysql-bin.000007.gz.age');
    expect(Buffer.concat(out.chunks).equals(log)).toBe(true);
    expect(hasher.bytes).toBe(stored.length);
    expect(stored.includes(Buffer.from('fake binary log'))).toBe(false);
  });

  it('without the identity stop saying what is missing', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const config = buildConfig({ encryption: { recipients: [recipient], tool: 'js' } });
    const stored = await encrypted(recipient, Buffer.from('rows'));
    const key = logKey('db', 'mysql-bin.000001', new Date(), true);

    await expect(
      readLog(
        { config, env: {} },
        key,
        Readable.from([stored]),
        new HashCounter(),
        collector().stream,
        'replaying',
      ),
    ).rejects.toThrow(/DRBOT_AGE_IDENTITY_FILE/);
  });
});
