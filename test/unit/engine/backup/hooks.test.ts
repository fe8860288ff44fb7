// Backup hooks from container labels: order, output on the timeline, a failing pre hook, finally, misconfiguration.
import { afterEach, describe, expect, it } from 'vitest';
import { engineOnFakes, type FakeWorld, SHOP } from '../../../fakes/engine-on-fakes.js';

let world: FakeWorld | undefined;
afterEach(() => world?.close());

const HOOKS = {
  'drbot.hooks.pre': '["maint","on"]',
  'drbot.hooks.post': '["maint","off"]',
  'drbot.hooks.error': '["maint","alert"]',
  'drbot.hooks.finally': '["sh","-c","echo cleaned"]',
};

/** The shop with a `worker` container that mounts the uploads volume and carries these labels. */
function shopWithHooks(
  labels: Record<string, string>,
  maint: (argv: string[]) => { exitCode: number; stdout: string },
) {
  const w = engineOnFakes({
    arrange: (runtime) => {
      runtime.addContainer({ name: 'worker', labels, mounts: { [SHOP.volume]: '/data' } });
      runtime.handleExec('worker', 'maint', (argv) => ({ ...maint(argv), stderrTail: '' }));
      runtime.handleExec('worker', 'sh', () => ({ exitCode: 0, stdout: 'cleaned\n', stderrTail: '' }));
    },
  });
  world = w;
  return w;
}

const hookOps = (w: FakeWorld) =>
  w.runtime.ops.filter((o) => o.startsWith('exec worker') || o === `export ${SHOP.volume}`);

describe('backup hooks', () => {
  it('runs pre, the backup, post and finally in order, with each hook’s output on the timeline', async () => {
    const w = shopWithHooks(HOOKS, (argv) => ({ exitCode: 0, stdout: `maintenance ${argv[1]}\n` }));

    const out = await w.engine.backup({ target: SHOP.volume, requester: 'alice' });

    expect(out.status).toBe('succeeded');
    expect(hookOps(w)).toEqual([
      'exec worker maint on',
      `export ${SHOP.volume}`,
      'exec worker maint off',
      'exec worker sh -c echo cleaned',
    ]);
    const lines = w.engine
      .run(out.run.id)
      .events.filter((e) => e.stage === 'hooks')
      .map((e) => e.message);
    expect(lines).toEqual([
      expect.stringMatching(/^pre hook in worker: exit 0 \(.*\): maintenance on$/),
      expect.stringMatching(/^post hook in worker: exit 0 \(.*\): maintenance off$/),
      expect.stringMatching(/^finally hook in worker: exit 0 \(.*\): cleaned$/),
    ]);
  });

  it('fails the asset with a failing pre hook’s output, runs error and finally, and never archives', async () => {
    const w = shopWithHooks(HOOKS, (argv) =>
      argv[1] === 'on'
        ? { exitCode: 3, stdout: 'cannot enter maintenance: queue busy' }
        : { exitCode: 0, stdout: '' },
    );

    const out = await w.engine.backup({ target: SHOP.volume, requester: 'alice' });

    expect(out.status).toBe('failed');
    expect(out.run.error).toContain(
      'pre hook in worker failed: exit 3: cannot enter maintenance: queue busy',
    );
    expect(hookOps(w)).toEqual([
      'exec worker maint on',
      'exec worker maint alert',
      'exec worker sh -c echo cleaned',
    ]);
  });

  it('runs the error and finally hooks when the upload fails, and starts a stopped container again', async () => {
    const w = engineOnFakes({
      arrange: (runtime) => {
        runtime.addVolume('ledger', {
          labels: { tier: 'important', 'drbot.archive': 'stopped' },
          files: { l: '1' },
        });
        runtime.addContainer({ name: 'worker', labels: HOOKS, mounts: { ledger: '/data' } });
        runtime.handleExec('worker', 'maint', () => ({ exitCode: 0, stdout: '', stderrTail: '' }));
        runtime.handleExec('worker', 'sh', () => ({ exitCode: 0, stdout: '', stderrTail: '' }));
      },
    });
    world = w;
    w.s3.failWrites(/ledger/);

    const out = await w.engine.backup({ target: 'ledger', requester: 'alice' });

    expect(out.status).toBe('failed');
    const ops = w.runtime.ops.filter((o) => /worker|ledger/.test(o));
    expect(ops[0]).toBe('exec worker maint on');
    // Stopped for the archive after its pre hook, started again although the upload failed.
    expect(ops.indexOf('stop worker')).toBeGreaterThan(0);
    expect(ops.indexOf('start worker')).toBeGreaterThan(ops.indexOf('export ledger'));
    expect(ops.indexOf('exec worker maint alert')).toBeGreaterThan(ops.indexOf('export ledger'));
    expect(ops.at(-1)).toBe('exec worker sh -c echo cleaned');
    expect((await w.runtime.listContainers()).find((c) => c.name === 'worker')?.running).toBe(true);
  });

  it('refuses a hook label that is not an argv array, naming the container and the label', async () => {
    const w = shopWithHooks({ 'drbot.hooks.pre': 'php artisan down' }, () => ({ exitCode: 0, stdout: '' }));

    const out = await w.engine.backup({ target: SHOP.volume, requester: 'alice' });

    expect(out.status).toBe('failed');
    expect(out.run.error).toContain(
      'container worker: label drbot.hooks.pre must be a JSON array of strings',
    );
    expect(hookOps(w)).toEqual([]);
  });
});
