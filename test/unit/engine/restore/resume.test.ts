// Starting services again after a restore: each container on its own, every failure reported.
import { describe, expect, it } from 'vitest';
import { startAgain } from '../../../../src/engine/restore/resume.js';
import { AppError, ErrorCode } from '../../../../src/errors.js';

/** A runtime whose containers in `broken` refuse to start; it records what was asked. */
function runtimeWith(broken: string[]) {
  const started: string[] = [];
  const runtime = {
    startContainer: async (name: string) => {
      if (broken.includes(name))
        throw new AppError(ErrorCode.DOCKER_FAILED, 'external', `${name}: no such image`);
      started.push(name);
    },
  };
  const events: string[] = [];
  const ctx = {
    info: (m: string) => events.push(`info ${m}`),
    error: (m: string) => events.push(`error ${m}`),
  };
  return { deps: { runtime } as never, ctx: ctx as never, started, events };
}

describe('startAgain', () => {
  it('starts every container although earlier ones fail, and reports all the failures', async () => {
    const { deps, ctx, started, events } = runtimeWith(['worker', 'web']);
    const stopped = ['web', 'api', 'worker', 'cron'];

    const err = await startAgain(deps, ctx, stopped).catch((e: AppError) => e);

    expect(started).toEqual(['cron', 'api']);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toMatch(
      /2 container\(s\) did not start again: worker: .*no such image \| web: /,
    );
    expect(events).toEqual([
      'info started cron',
      expect.stringMatching(/^error could not start worker: /),
      'info started api',
      expect.stringMatching(/^error could not start web: /),
    ]);
    expect(stopped).toEqual(['web', 'worker']);
  });

  it('empties the list when everything started', async () => {
    const { deps, ctx, started } = runtimeWith([]);
    const stopped = ['web', 'api'];

    await startAgain(deps, ctx, stopped);

    expect(started).toEqual(['api', 'web']);
    expect(stopped).toEqual([]);
  });
});
