// Archiving with drbot.archive=stopped: containers stopped, started again whatever happens, downtime on the timeline.
import { describe, expect, it } from 'vitest';
import type { VolumeAsset } from '../../../../src/domain/assets.js';
import { whileRunning } from '../../../../src/engine/backup/container-gate.js';
import { withMountersStopped } from '../../../../src/engine/backup/stopped-archive.js';
import { ErrorCode, externalError } from '../../../../src/errors.js';
import { aContainer } from '../../../fixtures/builders.js';
import { reportDeps } from '../../../fixtures/report-deps.js';

const NOW = new Date('2026-03-10T12:00:00Z');

function setUp() {
  const { deps } = reportDeps({ 'orders-data': { tier: 'critical', 'drbot.archive': 'stopped' } }, NOW);
  const running = new Map([
    ['orders-db', true],
    ['reporter', false],
  ]);
  const calls: string[] = [];
  Object.assign(deps.runtime, {
    listContainers: async () => [
      aContainer('orders-db', {
        labels: { 'dr.engine': 'mariadb', tier: 'important' },
        volumes: ['orders-data'],
        running: running.get('orders-db') as boolean,
      }),
      aContainer('reporter', { volumes: ['orders-data'], running: running.get('reporter') as boolean }),
    ],
    stopContainer: async (name: string) => {
      calls.push(`stop ${name}`);
      running.set(name, false);
    },
    startContainer: async (name: string) => {
      calls.push(`start ${name}`);
      running.set(name, true);
    },
    containerEnv: async () => 'pw',
    // The database answers once started: ping, the sanity query and `--version` all succeed.
    exec: async (name: string, o: { cmd: string[] }) => {
      calls.push(`exec ${name} ${o.cmd[0]}`);
      return { exitCode: running.get(name) ? 0 : 1, stdout: '5\n', stderrTail: '' };
    },
  });
  const timeline: Array<{ level: string; message: string; data?: Record<string, unknown> | undefined }> = [];
  const ctx = {
    info: (message: string, data?: Record<string, unknown>) =>
      timeline.push({ level: 'info', message, data }),
    warn: (message: string) => timeline.push({ level: 'warn', message }),
    error: (message: string) => timeline.push({ level: 'error', message }),
  } as never;
  const asset: VolumeAsset = {
    kind: 'volume',
    name: 'orders-data',
    volume: 'orders-data',
    labels: {},
    usedBy: ['orders-db', 'reporter'],
    dataOf: 'orders-db',
    archiveStopped: true,
    policy: {} as VolumeAsset['policy'],
  };
  return { deps, ctx, asset, calls, running, timeline };
}

describe('withMountersStopped', () => {
  it('stops the running containers for the archive only, and starts them again once the database answers', async () => {
    const { deps, ctx, asset, calls, running, timeline } = setUp();

    const value = await withMountersStopped(deps, ctx, asset, async () => {
      calls.push(`archive (orders-db running: ${running.get('orders-db')})`);
      return 'tar';
    });

    expect(value).toBe('tar');
    expect(calls.filter((c) => !c.startsWith('exec'))).toEqual([
      'stop orders-db',
      'archive (orders-db running: false)',
      'start orders-db',
    ]);
    expect(calls).toContain('exec orders-db mariadb-admin');
    expect(running.get('orders-db')).toBe(true);
    const downtime = timeline.find((e) => e.data?.downtimeMs !== undefined);
    expect(downtime?.message).toMatch(
      /orders-data: orders-db answers again after [\d.]+s of downtime for the archive/,
    );
    expect(downtime?.data).toMatchObject({ asset: 'orders-data', container: 'orders-db' });
  });

  it('starts the database again when the upload fails, and fails with the upload error', async () => {
    const { deps, ctx, asset, calls, running, timeline } = setUp();
    const uploadFailed = externalError(ErrorCode.S3_UPLOAD_FAILED, 's3: connection reset', {
      asset: 'orders-data',
    });

    const outcome = await withMountersStopped(deps, ctx, asset, async () => {
      throw uploadFailed;
    }).catch((err: unknown) => err);

    expect(outcome).toBe(uploadFailed);
    expect(calls.filter((c) => !c.startsWith('exec'))).toEqual(['stop orders-db', 'start orders-db']);
    expect(running.get('orders-db')).toBe(true);
    expect(timeline.some((e) => e.data?.downtimeMs !== undefined)).toBe(true);
  });

  it('fails the archive, naming the container, when one cannot be started again', async () => {
    const { deps, ctx, asset } = setUp();
    deps.runtime.startContainer = async () => {
      throw new Error('port is already allocated');
    };

    const outcome = await withMountersStopped(deps, ctx, asset, async () => 'tar').catch((err: Error) => err);

    expect((outcome as Error).message).toMatch(
      /archived, but not running again: orders-db \(.*port is already allocated/,
    );
  });

  it('waits for a dump of the database in progress before stopping it', async () => {
    const { deps, ctx, asset, calls } = setUp();
    let finishDump: () => void = () => undefined;
    const dump = whileRunning('orders-db', async () => {
      calls.push('dump starts');
      await new Promise<void>((resolve) => {
        finishDump = resolve;
      });
      calls.push('dump ends');
    });

    const archived = withMountersStopped(deps, ctx, asset, async () => {
      calls.push('archive');
    });
    await new Promise((r) => setTimeout(r, 20));
    const beforeDumpEnds = calls.filter((c) => !c.startsWith('exec'));
    finishDump();
    await Promise.all([dump, archived]);

    expect(beforeDumpEnds).toEqual(['dump starts']);
    expect(calls.filter((c) => !c.startsWith('exec'))).toEqual([
      'dump starts',
      'dump ends',
      'stop orders-db',
      'archive',
      'start orders-db',
    ]);
  });
});
