// The resume stage: start what the restore stopped, then wait for readiness by polling.
import type { RestorePlan } from '../../domain/restore-plan.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import { waitForDatabase } from '../db/db-restore.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { liveDbTarget, serviceReady } from './restore-steps.js';

/**
 * Starts containers in the reverse of the order they were stopped, each on its own: one that
 * will not start must not leave the others down. Every failure is reported (in the timeline as
 * it happens, then together in the error); the ones that did start leave `stopped`.
 */
export async function startAgain(
  deps: Pick<EngineDeps, 'runtime'>,
  ctx: Pick<RunContext, 'info' | 'error'>,
  stopped: string[],
): Promise<void> {
  const failures: string[] = [];
  for (const name of [...stopped].reverse()) {
    try {
      await deps.runtime.startContainer(name);
      stopped.splice(stopped.indexOf(name), 1);
      ctx.info(`started ${name}`);
    } catch (err) {
      failures.push(`${name}: ${describeError(err)}`);
      ctx.error(`could not start ${name}: ${describeError(err)}`, { container: name });
    }
  }
  if (failures.length)
    throw externalError(
      ErrorCode.NOT_READY,
      `${failures.length} container(s) did not start again: ${failures.join(' | ')}`,
      { step: 'resume' },
    );
}

/** Polls databases and services until ready or the deadline passes (no fixed sleeps). */
export async function waitReady(deps: EngineDeps, ctx: RunContext, plan: RestorePlan): Promise<void> {
  const timeout = deps.config.ms.restoreReadiness;
  for (const a of plan.assets.filter((x) => x.kind === 'database')) {
    const ms = await waitForDatabase(await liveDbTarget(deps, a), deps.clock, timeout);
    ctx.info(
      `${a.asset}: ${a.engine} in ${a.container} answers an authenticated query (ready after ${Math.round(ms / 100) / 10}s)`,
      { asset: a.asset },
    );
  }
  for (const name of [...plan.stopContainers, ...(plan.rebuild?.containers ?? [])]) {
    const started = deps.clock.monotonic();
    let problem = await serviceReady(deps, name);
    while (problem && deps.clock.monotonic() - started < timeout) {
      await deps.clock.sleep(500);
      problem = await serviceReady(deps, name);
    }
    if (problem)
      throw externalError(
        ErrorCode.NOT_READY,
        `${name} was not healthy within ${Math.round(timeout / 1000)} s: ${problem}`,
        { step: 'resume' },
      );
    ctx.info(`${name} is healthy`);
  }
}
