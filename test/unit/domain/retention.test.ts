import { describe, expect, it } from 'vitest';
import type { RetentionPeriod } from '../../../src/domain/duration.js';
import { planPrune } from '../../../src/domain/retention.js';
import { aRetainedArtifact } from '../../fixtures/builders.js';

const NOW = new Date('2026-06-30T12:00:00Z');
const THIRTY_DAYS: RetentionPeriod = { count: 30, unit: 'day' };
const retentionFor =
  (map: Record<string, RetentionPeriod>) =>
  (asset: string): RetentionPeriod | undefined =>
    map[asset];

describe('planPrune', () => {
  it('expires artifacts whose set is older than the retention and keeps younger ones', () => {
    const artifacts = [
      aRetainedArtifact('set-new', '2026-06-29T00:00:00Z'),
      aRetainedArtifact('set-recent', '2026-06-10T00:00:00Z'),
      aRetainedArtifact('set-old', '2026-05-01T00:00:00Z'),
      aRetainedArtifact('set-older', '2026-04-01T00:00:00Z'),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.expire.map((a) => a.setId)).toEqual(['set-old', 'set-older']);
  });

  it('keeps an artifact exactly at the cutoff and expires one a millisecond older', () => {
    const artifacts = [
      aRetainedArtifact('set-newest', '2026-06-30T00:00:00Z'),
      aRetainedArtifact('set-at-cutoff', '2026-05-31T12:00:00.000Z'),
      aRetainedArtifact('set-just-before', '2026-05-31T11:59:59.999Z'),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.expire.map((a) => a.setId)).toEqual(['set-just-before']);
  });

  it('decides by set time, whatever order the artifacts come in', () => {
    const artifacts = [
      aRetainedArtifact('set-b', '2026-01-02T00:00:00Z'),
      aRetainedArtifact('set-c', '2026-01-03T00:00:00Z'),
      aRetainedArtifact('set-a', '2026-01-01T00:00:00Z'),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.protectedSets.get('app-data')).toEqual(['set-c']);
    expect(plan.expire.map((a) => a.setId)).toEqual(['set-b', 'set-a']);
  });

  it('always keeps the newest artifact even when every artifact has expired', () => {
    const artifacts = [
      aRetainedArtifact('set-2', '2026-02-01T00:00:00Z'),
      aRetainedArtifact('set-1', '2026-01-01T00:00:00Z'),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.expire.map((a) => a.setId)).toEqual(['set-1']);
    expect(plan.protectedSets.get('app-data')).toEqual(['set-2']);
  });

  it('always keeps the newest verified artifact even when it has expired', () => {
    const artifacts = [
      aRetainedArtifact('set-4', '2026-06-29T00:00:00Z'),
      aRetainedArtifact('set-3', '2026-03-01T00:00:00Z'),
      aRetainedArtifact('set-2', '2026-02-01T00:00:00Z', { verified: true }),
      aRetainedArtifact('set-1', '2026-01-01T00:00:00Z', { verified: true }),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.expire.map((a) => a.setId)).toEqual(['set-3', 'set-1']);
    expect(plan.protectedSets.get('app-data')).toEqual(['set-4', 'set-2']);
  });

  it('protects a single set when the newest artifact is also the newest verified one', () => {
    const artifacts = [
      aRetainedArtifact('set-2', '2026-02-01T00:00:00Z', { verified: true }),
      aRetainedArtifact('set-1', '2026-01-01T00:00:00Z', { verified: true }),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.protectedSets.get('app-data')).toEqual(['set-2']);
    expect(plan.expire.map((a) => a.setId)).toEqual(['set-1']);
  });

  it('breaks a tie in set time by the later set id', () => {
    const artifacts = [
      aRetainedArtifact('set-20260101-000000-aaaa', '2026-01-01T00:00:00Z'),
      aRetainedArtifact('set-20260101-000000-ffff', '2026-01-01T00:00:00Z'),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.protectedSets.get('app-data')).toEqual(['set-20260101-000000-ffff']);
    expect(plan.expire.map((a) => a.setId)).toEqual(['set-20260101-000000-aaaa']);
  });

  it('keeps everything of an asset whose retention is unknown', () => {
    const artifacts = [
      aRetainedArtifact('set-2', '2020-02-01T00:00:00Z', { asset: 'lost-volume' }),
      aRetainedArtifact('set-1', '2020-01-01T00:00:00Z', { asset: 'lost-volume' }),
    ];

    const plan = planPrune(NOW, artifacts, retentionFor({}));

    expect(plan.expire).toEqual([]);
    expect(plan.protectedSets.get('lost-volume')).toEqual(['set-2']);
  });

  it('applies each asset its own retention and its own newest artifact', () => {
    const artifacts = [
      aRetainedArtifact('set-3', '2026-06-20T00:00:00Z', { asset: 'logs' }),
      aRetainedArtifact('set-3', '2026-06-20T00:00:00Z', { asset: 'db' }),
      aRetainedArtifact('set-2', '2026-06-01T00:00:00Z', { asset: 'logs' }),
      aRetainedArtifact('set-2', '2026-06-01T00:00:00Z', { asset: 'db' }),
      aRetainedArtifact('set-1', '2026-01-01T00:00:00Z', { asset: 'db' }),
      aRetainedArtifact('set-0', '2025-01-01T00:00:00Z', { asset: 'archive' }),
    ];
    const retention = retentionFor({ logs: { count: 7, unit: 'day' }, db: { count: 1, unit: 'year' } });

    const plan = planPrune(NOW, artifacts, retention);

    expect(plan.expire.map((a) => `${a.asset}/${a.setId}`)).toEqual(['logs/set-2']);
    expect(plan.protectedSets.get('db')).toEqual(['set-3']);
    expect(plan.protectedSets.get('archive')).toEqual(['set-0']);
  });

  it('plans nothing for no artifacts', () => {
    const plan = planPrune(NOW, [], retentionFor({ 'app-data': THIRTY_DAYS }));

    expect(plan.expire).toEqual([]);
    expect(plan.protectedSets.size).toBe(0);
  });
});
