import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/adapters/metrics/prometheus.js';
import { type RouteServer, serveRoutes } from '../../src/adapters/metrics/serve.js';
import { createLogger } from '../../src/log.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-api.js';
import { docker, removeByLabel } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { type SlackHarness, startSlackFront } from '../fixtures/slack-harness.js';

const LABEL = 'drbot.fixture=sched';
const MIN = 60_000;
let fake: FakeSlack;
let h: EngineHarness;
let slack: SlackHarness;
let metricsServer: RouteServer;
let metricsUrl: string;
/** A time just after a 10-minute slot of the critical tier's "*\/10 * * * *" schedule. */
const T0 = new Date(Math.floor(Date.now() / (10 * MIN)) * 10 * MIN - 60 * MIN + MIN);

const posted = (channel: string, pattern: RegExp) =>
  fake
    .callsTo('chat.postMessage')
    .filter((c) => c.body.channel === channel && pattern.test(String(c.body.text)));
const backupRuns = () => h.app.engine.runs(500).filter((r) => r.kind === 'backup');
const scheduler = () => new Scheduler(h.app.engine, slack.front.notifier, createLogger({ level: 'warn' }));

beforeAll(async () => {
  removeByLabel(LABEL);
  docker(['volume', 'create', '--label', LABEL, '--label', 'tier=critical', 'sched-vol']);
  docker([
    'run',
    '--rm',
    '-v',
    'sched-vol:/v',
    BUSYBOX_IMAGE,
    'sh',
    '-c',
    'echo data > /v/file; mkdir /v/d; echo more > /v/d/f',
  ]);
  fake = await startFakeSlack();
  h = engineHarness({
    // The Slack app refuses to start without an approver.
    config: { slack: { reportsChannel: 'C0REPORTS', alertsChannel: 'C0ALERTS', approvers: ['U0APPROVER'] } },
  });
  slack = await startSlackFront(h.app.engine, fake);
  // /metrics has its own listener (metrics.listen), not Slack's port.
  metricsServer = await serveRoutes(
    { host: '127.0.0.1', port: 0 },
    { '/metrics': createMetrics(h.app.engine).handler },
  );
  metricsUrl = `http://127.0.0.1:${metricsServer.address.port}/metrics`;
});

afterAll(async () => {
  await metricsServer?.close();
  await slack?.front.stop();
  await fake?.stop();
  h?.app.close();
  removeByLabel(LABEL);
});

describe('RPO monitor with a fake clock', () => {
  it('raises exactly one alert when the newest verified backup ages past 15 min, and one recovery notice after a backup + verify', async () => {
    h.clock.set(T0);
    const first = await h.app.engine.backup({ target: 'sched-vol', requester: 'test' });
    const verified = await h.app.engine.verify({ set: first.setId, deep: true, requester: 'test' });
    expect(verified.status, verified.failures.join()).toBe('succeeded');
    const monitor = scheduler().monitor;

    await monitor.check(new Date(T0.getTime() + 5 * MIN));
    const before = posted('C0ALERTS', /RPO breach: sched-vol/).length;
    await monitor.check(new Date(T0.getTime() + 16 * MIN));
    await monitor.check(new Date(T0.getTime() + 17 * MIN));
    await monitor.check(new Date(T0.getTime() + 18 * MIN));

    expect(before).toBe(0);
    const alerts = posted('C0ALERTS', /RPO breach: sched-vol/);
    expect(alerts).toHaveLength(1);
    expect(JSON.stringify(alerts[0]?.body.blocks)).toMatch(
      /sched-vol: newest verified backup set-\S+ is 16m old \(RPO 15m\), breached since /,
    );

    h.clock.set(new Date(T0.getTime() + 19 * MIN));
    const second = await h.app.engine.backup({ target: 'sched-vol', requester: 'test' });
    await h.app.engine.verify({ set: second.setId, deep: true, requester: 'test' });
    await monitor.check(new Date(T0.getTime() + 20 * MIN));
    await monitor.check(new Date(T0.getTime() + 21 * MIN));

    expect(posted('C0ALERTS', /Recovered: sched-vol is within its RPO again/)).toHaveLength(1);
    expect(posted('C0ALERTS', /RPO breach: sched-vol/)).toHaveLength(1);
  });
});

describe('schedules', () => {
  it('a schedule slot fires a real backup of the fixture, verifies it and posts one report', async () => {
    const slot = new Date(T0.getTime() + 29 * MIN); // the next */10 slot
    h.clock.set(slot);
    const runsBefore = backupRuns().length;
    const reportsBefore = posted('C0REPORTS', /^Backup run-/).length;

    await scheduler().tick(slot);

    expect(backupRuns().length).toBe(runsBefore + 1);
    const run = backupRuns()[0];
    expect(run).toMatchObject({ status: 'succeeded', requester: 'scheduler' });
    expect(run?.target).toBe('schedule */10 * * * *');
    const reports = posted('C0REPORTS', /^Backup run-/);
    expect(reports.length - reportsBefore).toBe(1);
    expect(String(reports.at(-1)?.body.text)).toMatch(
      new RegExp(`Backup ${run?.id} \\(schedule\\): set set-\\S+, 1 asset\\(s\\)`),
    );
    const setId = String(run?.result.setId);
    expect(h.app.engine.getSet(setId)?.artifacts[0]?.deepVerifiedAt).toBeDefined();
  });

  it('after a restart that missed several slots, catches up with one backup, not one per slot', async () => {
    const later = new Date(T0.getTime() + 3 * 60 * MIN);
    h.clock.set(later);
    const runsBefore = backupRuns().length;

    await scheduler().catchUp(later);

    expect(backupRuns().length).toBe(runsBefore + 1);
    expect(backupRuns()[0]?.target).toBe('catch-up */10 * * * *');
    await scheduler().catchUp(later);
    expect(backupRuns().length).toBe(runsBefore + 1);
  });

  it('two overlapping triggers for one asset give one run', async () => {
    const s = scheduler();
    h.clock.set(new Date(T0.getTime() + 4 * 60 * MIN));
    const runsBefore = backupRuns().length;

    const [a, b] = await Promise.all([
      s.runGroup('*/10 * * * *', ['sched-vol'], 'schedule'),
      s.runGroup('*/10 * * * *', ['sched-vol'], 'schedule'),
    ]);
    const other = await Promise.all([
      scheduler().runGroup('*/10 * * * *', ['sched-vol'], 'schedule'),
      h.app.engine.backup({ target: 'sched-vol', requester: 'x' }).catch((e: Error) => e),
    ]);

    expect([a, b].filter((o) => o !== undefined)).toHaveLength(1);
    // Across schedulers (or a schedule and a manual backup), the asset lock gives one run too.
    expect(other.filter((o) => o !== undefined && !(o instanceof Error))).toHaveLength(1);
    expect(backupRuns().length).toBe(runsBefore + 2);
  });
});

describe('/metrics', () => {
  it('parses as Prometheus text and shows last backup, last verified, RPO breach state and run outcomes', async () => {
    const res = await fetch(metricsUrl);
    const text = await res.text();

    expect(res.status).toBe(200);
    const families = parsePrometheusTextFormat(text) as Array<{
      name: string;
      metrics: Array<{ value: string; labels?: Record<string, string> }>;
    }>;
    const value = (name: string, labels: Record<string, string>) =>
      families
        .find((f) => f.name === name)
        ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;
    const newest = h.app.engine.newestSetPerAsset().get('sched-vol');
    expect(Number(value('drbot_last_backup_timestamp_seconds', { asset: 'sched-vol' }))).toBe(
      (newest?.createdAt.getTime() ?? 0) / 1000,
    );
    expect(
      Number(value('drbot_last_verified_backup_timestamp_seconds', { asset: 'sched-vol' })),
    ).toBeGreaterThan(T0.getTime() / 1000);
    expect(value('drbot_rpo_breach', { asset: 'sched-vol', kind: 'rpo' })).toBe('0');
    expect(Number(value('drbot_rpo_seconds', { asset: 'sched-vol', tier: 'critical' }))).toBe(900);
    expect(Number(value('drbot_runs_total', { kind: 'backup', status: 'succeeded' }))).toBeGreaterThanOrEqual(
      5,
    );
    expect(Number(value('drbot_last_run_duration_seconds', { kind: 'backup' }))).toBeGreaterThanOrEqual(0);
  });
});
