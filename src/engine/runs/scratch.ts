// Scratch containers and volumes of a run: their names, their label, their removal.

import { randomBytes } from 'node:crypto';
import type { Config } from '../../config.js';
import { parseByteSize } from '../../domain/size.js';
import type { ContainerRuntime, ScratchContainerSpec } from '../../ports/container-runtime.js';

/** Label on every scratch container and volume, valued with the run that made it. */
export const SCRATCH_LABEL = 'drbot.scratch';

/** A Docker-safe, recognisable name for a run's scratch object. */
export function scratchName(runId: string, asset: string, kind: 'verify' | 'restore' | 'replay'): string {
  const safe = asset.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 60);
  return `drbot-${kind}-${runId}-${safe}-${randomBytes(2).toString('hex')}`;
}

/** `verify.scratch` as the container runtime takes it: the caps of one scratch container. */
export function scratchLimits(config: Pick<Config, 'verify'>): NonNullable<ScratchContainerSpec['limits']> {
  const { cpus, memory } = config.verify.scratch;
  return { nanoCpus: Math.round(cpus * 1e9), memoryBytes: parseByteSize(memory) ?? 0 };
}

/** A throw-away password for a scratch database (never logged: registered as a secret). */
export function scratchPassword(): string {
  return `scratch-${randomBytes(12).toString('hex')}`;
}

/**
 * Removes a scratch container or volume a run made; a failure is a warning in the run's
 * timeline (the start-up clean-up finds it again by its label), never the run's error.
 */
export async function discardScratch(
  runtime: Pick<ContainerRuntime, 'removeContainer' | 'removeVolume'>,
  ctx: { warn(message: string): void },
  what: 'container' | 'volume',
  name: string,
  label = `scratch ${what}`,
): Promise<void> {
  await (what === 'container' ? runtime.removeContainer(name) : runtime.removeVolume(name)).catch((err) =>
    ctx.warn(`${label} ${name} was not removed: ${(err as Error).message}`),
  );
}
