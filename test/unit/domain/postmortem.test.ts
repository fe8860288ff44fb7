import { describe, expect, it } from 'vitest';
import { renderPostmortem } from '../../../src/domain/postmortem.js';
import { planFingerprint, type RestorePlan } from '../../../src/domain/restore-plan.js';
import type { Run, RunEvent } from '../../../src/domain/runs.js';

const t = (s: number) => new Date(Date.UTC(2026, 10, 26, 12, 0, s));
const MIN = 60_000;

function plan(overrides: Partial<RestorePlan> = {}): RestorePlan {
  const base: Omit<RestorePlan, 'fingerprint'> = {
    scope: 'db-only',
    from: undefined,
    assets: [
      {
        asset: 'main',
        kind: 'database',
        artifactKind: 'mysql-dump',
        setId: 'set-20261126-115000-aaaa',
        setTime: t(0).toISOString(),
        file: 'main.sql.gz',
        sha256: 'ab',
        size: 10,
        engineVersion: 'mariadb 10.11',
        readFrom: 'local',
        lossWindowMs: 20 * MIN,
        rpoMs: 15 * MIN,
        rtoMs: 60 * MIN,
      },
    ],
    stopContainers: ['web'],
    rtoMs: 60 * MIN,
    expectedMs: undefined,
    diskFreeBytes: undefined,
    notes: [],
    ...overrides,
  };
  return { ...base, fingerprint: planFingerprint(base) };
}

const run: Run = {
  id: 'run-7',
  kind: 'restore',
  requester: 'U0REQ',
  target: 'db-only',
  status: 'succeeded',
  createdAt: t(0),
  startedAt: t(0),
  endedAt: t(50),
  error: undefined,
  result: {},
};

function ev(
  s: number,
  stage: string,
  type: RunEvent['type'],
  message: string,
  data?: Record<string, unknown>,
): RunEvent {
  return { runId: 'run-7', at: t(s), stage, type, message, data };
}

const events: RunEvent[] = [
  ev(0, 'assess', 'stage-start', 'assess started'),
  ev(1, 'assess', 'stage-end', 'assess finished', { ok: true, ms: 1000 }),
  ev(1, 'assemble', 'stage-start', 'assemble started'),
  ev(31, 'assemble', 'stage-end', 'assemble finished', { ok: true, ms: 30000 }),
  ev(31, 'restore', 'stage-start', 'restore started'),
  ev(40, 'restore', 'warn', 'main: something to know'),
  ev(41, 'restore', 'stage-end', 'restore finished', { ok: true, ms: 10000 }),
  ev(41, 'resume', 'stage-start', 'resume started'),
  ev(45, 'resume', 'stage-end', 'resume finished', { ok: true, ms: 4000 }),
];

describe('renderPostmortem', () => {
  it('states trigger, approver, RTO against target (with the approval wait) and the data-loss window against RPO', () => {
    const md = renderPostmortem({
      run,
      events,
      plan: plan(),
      approval: { by: 'U0APP', at: t(31), via: 'Slack two-person approval' },
      safetySetId: 'set-x',
      status: 'succeeded',
      failures: [],
      extras: {},
      at: t(50),
    });

    expect(md).toContain('# Postmortem: restore db-only (run-7)');
    expect(md).toContain('| Trigger | `restore db-only` requested by U0REQ at 2026-11-26 12:00:00Z |');
    expect(md).toContain('| Approved by | U0APP at 2026-11-26 12:00:31Z (Slack two-person approval) |');
    expect(md).toContain('| RTO achieved | 45s — target 1h: met; 30s of it waiting for approval |');
    expect(md).toContain(
      '| main | database | set-20261126-115000-aaaa | 2026-11-26 12:00:00Z | local | 20m | 15m (**breached**) |',
    );
    expect(md).toContain('| assemble | 2026-11-26 12:00:01Z | 30s | ok |');
    expect(md).toContain('_warning_ main: something to know');
    expect(md).toMatch(/- \[ \] main: 20m of writes were lost against an RPO of 15m/);
    expect(md).toContain('`drbot undo run-7` puts it back');
  });

  it('for a failed run, lists what failed and points to undo', () => {
    const md = renderPostmortem({
      run: { ...run, status: 'failed' },
      events,
      plan: plan({ rtoMs: 30_000 }),
      approval: undefined,
      safetySetId: 'set-x',
      status: 'failed',
      failures: ['asset main, step restore: boom'],
      extras: { vol: ['late.txt'] },
      at: t(50),
    });

    expect(md).toContain('| Outcome | **failed** |');
    expect(md).toContain('## What failed\n\n- asset main, step restore: boom');
    expect(md).toContain('target 30s: **missed**');
    expect(md).toMatch(/put the previous state back with `drbot undo run-7`/);
    expect(md).toMatch(/vol: 1 file\(s\) that are not in the backup are still in the volume/);
  });
});

describe('planFingerprint', () => {
  it('changes when a newer set is chosen, and not for cosmetic fields', () => {
    const a = plan();
    const newer = plan({
      assets: [{ ...(a.assets[0] as RestorePlan['assets'][number]), setId: 'set-20261126-120500-bbbb' }],
    });
    const sameWithNotes = plan({ notes: ['x'], expectedMs: 5 });

    expect(newer.fingerprint).not.toBe(a.fingerprint);
    expect(sameWithNotes.fingerprint).toBe(a.fingerprint);
  });
});
