// Scratch database containers get the CPU and memory caps of verify.scratch; bad values are named at start.
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../../src/config.js';
import { deepVerifyArtifact } from '../../../../src/engine/verify/deep-verify.js';
import { AppError } from '../../../../src/errors.js';
import { systemClock } from '../../../../src/ports/clock.js';
import type { ScratchContainerSpec } from '../../../../src/ports/container-runtime.js';
import { aMysqlDumpSet } from '../../../fixtures/builders.js';

const { artifact, set } = aMysqlDumpSet();

/** The spec a deep verify asks the runtime for, on this config (the scratch then fails to start). */
async function scratchSpec(config: Record<string, unknown>): Promise<ScratchContainerSpec> {
  let seen: ScratchContainerSpec | undefined;
  const runtime = {
    runScratchContainer: async (spec: ScratchContainerSpec) => {
      seen = spec;
      throw new AppError('DOCKER_FAILED', 'external', 'not in this test');
    },
    removeContainer: async () => undefined,
  };
  const deps = { runtime, config: buildConfig(config), clock: systemClock } as never;
  const ctx = { run: { id: 'run-7' }, info: () => undefined, warn: () => undefined } as never;
  await deepVerifyArtifact(deps, ctx, set, artifact).catch(() => undefined);
  return seen as ScratchContainerSpec;
}

describe('scratch container limits', () => {
  it('are one CPU and 1 GiB by default', async () => {
    const spec = await scratchSpec({});

    expect(spec.limits).toEqual({ nanoCpus: 1_000_000_000, memoryBytes: 1024 ** 3 });
  });

  it('follow verify.scratch, 0 meaning no limit', async () => {
    const capped = await scratchSpec({ verify: { scratch: { cpus: 0.5, memory: '512m' } } });
    const unlimited = await scratchSpec({ verify: { scratch: { cpus: 0, memory: 0 } } });

    expect(capped.limits).toEqual({ nanoCpus: 500_000_000, memoryBytes: 512 * 1024 ** 2 });
    expect(unlimited.limits).toEqual({ nanoCpus: 0, memoryBytes: 0 });
  });

  it('refuse a malformed size, naming the key and what is allowed', () => {
    const error = (() => {
      try {
        buildConfig({ verify: { scratch: { memory: 'lots' } } });
      } catch (err) {
        return err as AppError;
      }
      return undefined;
    })();

    expect(error?.message).toContain(
      'verify.scratch.memory: "lots" — must be bytes, or a number with k, m, g or t (e.g. 512m, 1g, 1.5g); 0 for no limit',
    );
  });
});
