// A deep verify's scratch password is a secret only while its scratch database exists.
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../../src/config.js';
import { deepVerifyArtifact } from '../../../../src/engine/verify/deep-verify.js';
import { AppError, ErrorCode } from '../../../../src/errors.js';
import { systemClock } from '../../../../src/ports/clock.js';
import { scrub, secretCount } from '../../../../src/secrets.js';
import { aMysqlDumpSet } from '../../../fixtures/builders.js';

const { artifact, set } = aMysqlDumpSet();

/** Deps whose runtime records the scratch password and fails to start the scratch with it. */
function failingScratch() {
  const seen: { password?: string | undefined; maskedWhileRunning?: boolean; maskedAtRemoval?: boolean } = {};
  const runtime = {
    runScratchContainer: async (spec: { env: string[] }) => {
      const password = spec.env.find((e) => e.startsWith('MYSQL_ROOT_PASSWORD='))?.split('=')[1];
      seen.password = password;
      seen.maskedWhileRunning = scrub(`pw ${password}`) === 'pw [REDACTED]';
      // Tools do echo what they were given; the error must not carry it out.
      throw new AppError(
        ErrorCode.DOCKER_FAILED,
        'external',
        `create failed: env MYSQL_ROOT_PASSWORD=${password}`,
        {
          stderrTail: `password was ${password}`,
        },
      );
    },
    removeContainer: async () => {
      seen.maskedAtRemoval = scrub(seen.password ?? '') === '[REDACTED]';
    },
  };
  const deps = { runtime, config: buildConfig({}), clock: systemClock } as never;
  const warnings: string[] = [];
  const ctx = { run: { id: 'run-7' }, info: () => undefined, warn: (m: string) => warnings.push(m) } as never;
  return { deps, ctx, seen, warnings };
}

describe('deepVerifyArtifact: the scratch password', () => {
  it('is masked while the scratch exists, forgotten once it is removed, and not in the error', async () => {
    const before = secretCount();
    const { deps, ctx, seen } = failingScratch();

    const outcome = await deepVerifyArtifact(deps, ctx, set, artifact).catch((err: AppError) => err);

    const password = seen.password as string;
    expect(password).toMatch(/^scratch-/);
    expect(seen.maskedWhileRunning).toBe(true);
    expect(seen.maskedAtRemoval).toBe(true);
    expect(secretCount()).toBe(before);
    expect(scrub(password)).toBe(password);
    expect(outcome).toBeInstanceOf(AppError);
    expect((outcome as AppError).code).toBe('DOCKER_FAILED');
    expect((outcome as AppError).message).toBe('create failed: env MYSQL_ROOT_PASSWORD=[REDACTED]');
    expect((outcome as AppError).stderrTail).toBe('password was [REDACTED]');
  });

  it('leaves no registration behind after many deep verifies', async () => {
    const before = secretCount();

    for (let i = 0; i < 50; i++) {
      const { deps, ctx } = failingScratch();
      await deepVerifyArtifact(deps, ctx, set, artifact).catch(() => undefined);
    }

    expect(secretCount()).toBe(before);
  });
});
