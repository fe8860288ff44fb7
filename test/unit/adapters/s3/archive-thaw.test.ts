import { HeadObjectCommand, RestoreObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { thawObject } from '../../../../src/adapters/s3/archive-thaw.js';
import { AppError } from '../../../../src/errors.js';

const HOUR = 3600_000;

/** A fake S3 client: HeadObject answers from a script, RestoreObject is recorded (or fails). */
function fakeS3(heads: Array<{ StorageClass?: string; Restore?: string }>, restoreError?: Error) {
  const sent: Array<{ command: string; input: unknown }> = [];
  let i = 0;
  return {
    sent,
    client: {
      async send(command: unknown) {
        const name = (command as object).constructor.name;
        sent.push({ command: name, input: (command as { input: unknown }).input });
        if (command instanceof HeadObjectCommand) return heads[Math.min(i++, heads.length - 1)];
        if (command instanceof RestoreObjectCommand) {
          if (restoreError) throw restoreError;
          return {};
        }
        throw new Error(`unexpected ${name}`);
      },
    } as never,
  };
}

/** Time that moves only when the code under test sleeps. */
function manualTime(start = new Date('2026-03-01T00:00:00Z')) {
  let t = start.getTime();
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date(t),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

describe('thawObject', () => {
  it('reads an object in a standard class at once, asking nothing else', async () => {
    const s3 = fakeS3([{ StorageClass: 'STANDARD_IA' }]);
    const notes: string[] = [];

    await thawObject(
      { client: s3.client, bucket: 'b', key: 'k', config: {}, describe: 's3 s3://b/p' },
      { deadline: new Date(Date.now() + HOUR), notify: (m) => notes.push(m) },
    );

    expect(s3.sent.map((s) => s.command)).toEqual(['HeadObjectCommand']);
    expect(notes).toEqual([]);
  });

  it('starts the restore of a DEEP_ARCHIVE object, says the expected wait once, and waits until the copy is ready', async () => {
    const s3 = fakeS3([
      { StorageClass: 'DEEP_ARCHIVE' },
      { StorageClass: 'DEEP_ARCHIVE', Restore: 'ongoing-request="true"' },
      { StorageClass: 'DEEP_ARCHIVE', Restore: 'ongoing-request="true"' },
      {
        StorageClass: 'DEEP_ARCHIVE',
        Restore: 'ongoing-request="false", expiry-date="Mon, 02 Mar 2026 00:00:00 GMT"',
      },
    ]);
    const time = manualTime();
    const notes: string[] = [];

    await thawObject(
      {
        client: s3.client,
        bucket: 'b',
        key: 'drbot/2026/01/01/set-1/main.sql.gz',
        config: { archiveRestore: { tier: 'Expedited', days: 2, maxWait: '48h' } },
        describe: 's3 s3://b/drbot',
        pollMs: 60_000,
        now: time.now,
        sleep: time.sleep,
      },
      { deadline: new Date(time.now().getTime() + 48 * HOUR), notify: (m) => notes.push(m) },
    );

    const restore = s3.sent.find((s) => s.command === 'RestoreObjectCommand');
    // DEEP_ARCHIVE has no Expedited retrieval: Standard is asked instead.
    expect(restore?.input).toEqual({
      Bucket: 'b',
      Key: 'drbot/2026/01/01/set-1/main.sql.gz',
      RestoreRequest: { Days: 2, GlacierJobParameters: { Tier: 'Standard' } },
    });
    expect(notes).toEqual([
      'drbot/2026/01/01/set-1/main.sql.gz is in DEEP_ARCHIVE: restore request sent (Standard retrieval, readable for 2 day(s)); expected wait within 12 hours (waiting at most 2d, until 2026-03-03T00:00:00.000Z)',
    ]);
    expect(time.sleeps).toEqual([60_000, 60_000]);
  });

  it('does not ask again when a restore is already under way', async () => {
    const s3 = fakeS3([
      { StorageClass: 'GLACIER', Restore: 'ongoing-request="true"' },
      { StorageClass: 'GLACIER', Restore: 'ongoing-request="false"' },
    ]);
    const time = manualTime();
    const notes: string[] = [];

    await thawObject(
      {
        client: s3.client,
        bucket: 'b',
        key: 'k',
        config: {},
        describe: 's3',
        now: time.now,
        sleep: time.sleep,
      },
      { deadline: new Date(time.now().getTime() + HOUR), notify: (m) => notes.push(m) },
    );

    expect(s3.sent.some((s) => s.command === 'RestoreObjectCommand')).toBe(false);
    expect(notes[0]).toMatch(/^k is in GLACIER: a restore was already under way; expected wait 3–5 hours/);
  });

  it('stops at its deadline with ARTIFACT_ARCHIVED, on the clock it is given', async () => {
    const s3 = fakeS3([
      { StorageClass: 'GLACIER' },
      { StorageClass: 'GLACIER', Restore: 'ongoing-request="true"' },
    ]);
    const time = manualTime();
    const deadline = new Date(time.now().getTime() + 2 * HOUR);

    const err = await thawObject(
      {
        client: s3.client,
        bucket: 'b',
        key: 'k',
        config: {},
        describe: 's3 s3://b/p',
        pollMs: 30 * 60_000,
        now: time.now,
        sleep: time.sleep,
      },
      { deadline, notify: () => undefined },
    ).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('ARTIFACT_ARCHIVED');
    expect((err as AppError).message).toBe(
      's3 s3://b/p: k is in GLACIER and its restored copy was not ready by 2026-03-01T02:00:00.000Z (Restore: ongoing-request="true"); the restore request stays under way: run again later',
    );
    expect(time.sleeps.reduce((a, b) => a + b, 0)).toBe(2 * HOUR);
  });

  it('takes RestoreAlreadyInProgress as a restore under way, and names any other refusal', async () => {
    const busy = Object.assign(new Error('already'), { name: 'RestoreAlreadyInProgress' });
    const ok = fakeS3(
      [{ StorageClass: 'GLACIER' }, { StorageClass: 'GLACIER', Restore: 'ongoing-request="false"' }],
      busy,
    );
    const denied = fakeS3(
      [{ StorageClass: 'GLACIER' }],
      Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }),
    );
    const o = { bucket: 'b', key: 'k', config: {}, describe: 's3' };
    const options = { deadline: new Date(Date.now() + HOUR), notify: () => undefined };

    await thawObject({ ...o, client: ok.client }, options);
    const err = await thawObject({ ...o, client: denied.client }, options).catch((e: unknown) => e);

    expect((err as AppError).message).toBe(
      's3: k is in GLACIER and its restore cannot be started: Access Denied',
    );
  });
});
