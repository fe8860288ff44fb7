import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../../src/config.js';
import { thawCopy } from '../../../../src/engine/storage/thaw.js';
import { AppError } from '../../../../src/errors.js';
import type { BackupTarget, ThawOptions } from '../../../../src/ports/backup-target.js';

const NOW = new Date('2026-03-10T12:00:00Z');
const set = { id: 'set-1', createdAt: new Date('2026-01-02T03:04:05Z') } as never;
const artifact = { asset: 'main', file: 'main.sql.gz' } as never;

function recordingCtx() {
  const lines: string[] = [];
  return {
    lines,
    ctx: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) },
  };
}

describe('thawCopy (the restore verify stage, before a copy is read)', () => {
  it("waits on the copy's target up to its archiveRestore.maxWait and passes the expected wait to the run", async () => {
    const calls: Array<{ key: string; options: ThawOptions }> = [];
    const target = {
      name: 's3',
      async thaw(key: string, options: ThawOptions) {
        calls.push({ key, options });
        options.notify('main.sql.gz is in GLACIER: expected wait 3–5 hours');
      },
    } as unknown as BackupTarget;
    const config = buildConfig({
      storage: { s3: { bucket: 'company-backups', archiveRestore: { maxWait: '6h' } } },
    });
    const { ctx, lines } = recordingCtx();

    await thawCopy(
      { config, targets: [target], clock: { now: () => NOW } as never },
      ctx,
      set,
      artifact,
      's3',
    );

    expect(calls.map((c) => [c.key, c.options.deadline.toISOString()])).toEqual([
      ['2026/01/02/set-1/main.sql.gz', '2026-03-10T18:00:00.000Z'],
    ]);
    expect(lines).toEqual(['info main: s3: main.sql.gz is in GLACIER: expected wait 3–5 hours']);
  });

  it('warns and returns at the deadline, so the next copy is tried', async () => {
    const target = {
      name: 's3',
      async thaw() {
        throw new AppError('ARTIFACT_ARCHIVED', 'external', 'not ready by 2026-03-12T12:00:00.000Z');
      },
    } as unknown as BackupTarget;
    const { ctx, lines } = recordingCtx();

    await thawCopy(
      {
        config: buildConfig({ storage: { s3: { bucket: 'company-backups' } } }),
        targets: [target],
        clock: { now: () => NOW } as never,
      },
      ctx,
      set,
      artifact,
      's3',
    );

    expect(lines).toEqual(['warn main: s3: not ready by 2026-03-12T12:00:00.000Z']);
  });

  it('asks nothing of a target without archive classes (the local directory)', async () => {
    const { ctx, lines } = recordingCtx();

    await thawCopy(
      {
        config: buildConfig({}),
        targets: [{ name: 'local' } as BackupTarget],
        clock: { now: () => NOW } as never,
      },
      ctx,
      set,
      artifact,
      'local',
    );

    expect(lines).toEqual([]);
  });
});
