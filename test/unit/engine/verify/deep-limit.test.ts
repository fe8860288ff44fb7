// Deep verifies and recovery tests share one limit (verify.concurrency): refused for people, queued for the scheduler.
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../../src/config.js';
import { runRecoveryTest, runVerify } from '../../../../src/engine/verify/verify.js';
import { AppError, ErrorCode } from '../../../../src/errors.js';
import { recordSet, reportDeps } from '../../../fixtures/report-deps.js';

const NOW = new Date('2026-03-10T12:00:00Z');

/**
 * Deps whose scratch volumes are created only when the test lets them (each deep verify waits
 * there, holding its slot), then fail: what matters here is who got to start.
 */
function blockingScratch(config: Record<string, unknown> = {}) {
  const { deps, store } = reportDeps({ 'app-data': { tier: 'important' } }, NOW);
  recordSet(store, 'set-a', 'app-data', NOW, { deepVerified: false });
  const asked: string[] = [];
  const gates: Array<() => void> = [];
  let arrived: () => void = () => undefined;
  const runtime = deps.runtime as unknown as Record<string, unknown>;
  runtime.createVolume = (name: string) => {
    asked.push(name);
    arrived();
    return new Promise<void>((_resolve, reject) =>
      gates.push(() => reject(new AppError(ErrorCode.DOCKER_FAILED, 'external', 'no scratch in this test'))),
    );
  };
  runtime.removeVolume = async () => undefined;
  const next = () => new Promise<void>((resolve) => (arrived = resolve));
  const releaseAll = () => {
    for (const g of gates.splice(0)) g();
  };
  return {
    deps: { ...deps, config: buildConfig({ state: ':memory:', ...config }, '/etc/drbot/drbot.yaml') },
    asked,
    next,
    releaseAll,
  };
}

describe('the deep verify limit', () => {
  it('refuses a second deep verify or test from a person, naming the run that holds the slot', async () => {
    const { deps, next, releaseAll } = blockingScratch();
    const started = next();
    const first = runVerify(deps, { set: 'set-a', deep: true, requester: 'U0FIRST' });
    await started;

    const test = await runRecoveryTest(deps, { requester: 'U0SECOND' }).catch((e: AppError) => e);
    const verify = await runVerify(deps, { set: 'set-a', deep: true, requester: 'U0THIRD' }).catch(
      (e: AppError) => e,
    );
    const shallow = await runVerify(deps, { set: 'set-a', deep: false, requester: 'U0FOURTH' });
    releaseAll();
    const firstOutcome = await first;

    expect(test).toBeInstanceOf(AppError);
    expect((test as AppError).code).toBe(ErrorCode.LIMIT_REACHED);
    expect((test as AppError).message).toBe(
      `a deep verify or recovery test is already running: ${firstOutcome.run.id} (verify set-a by U0FIRST); drbot runs 1 at a time (verify.concurrency): try again when it has finished`,
    );
    expect((verify as AppError).code).toBe(ErrorCode.LIMIT_REACHED);
    expect(shallow.status).toBe('succeeded');
    // Refused requests started nothing: the two runs are the first deep one and the shallow one.
    const runs = deps.store.listRuns(10).filter((r) => r.kind !== 'backup');
    expect(runs.map((r) => r.requester)).toEqual(['U0FOURTH', 'U0FIRST']);
  });

  it('lets the scheduler wait for its turn, and allows verify.concurrency at once', async () => {
    const { deps, asked, next, releaseAll } = blockingScratch({ verify: { concurrency: 2 } });
    let arrival = next();
    const a = runVerify(deps, { set: 'set-a', deep: true, requester: 'U0A' });
    await arrival;
    arrival = next();
    const b = runVerify(deps, { set: 'set-a', deep: true, requester: 'U0B' });
    await arrival;

    arrival = next();
    const queued = runRecoveryTest(deps, { requester: 'scheduler', whenBusy: 'wait' });
    await new Promise((r) => setTimeout(r, 50));
    const askedWhileFull = asked.length;
    releaseAll();
    await Promise.all([a, b]);
    await arrival;
    releaseAll();
    const drill = await queued;

    expect(askedWhileFull).toBe(2);
    expect(asked).toHaveLength(3);
    expect(drill.run.requester).toBe('scheduler');
    expect(drill.deep.map((d) => d.ok)).toEqual([false]);
  });
});
