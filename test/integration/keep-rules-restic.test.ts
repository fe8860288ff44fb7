// Keep rules against the reference: drbot's prune plan keeps exactly what `restic forget --keep-*` keeps on the same timeline.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRetention } from '../../src/engine/catalog/prune.js';
import { recordSet, reportDeps } from '../fixtures/report-deps.js';

const run = promisify(execFile);
const NOW = new Date('2026-11-20T12:00:00Z');
const FLAGS = [
  '--keep-last',
  '3',
  '--keep-hourly',
  '5',
  '--keep-daily',
  '7',
  '--keep-weekly',
  '5',
  '--keep-monthly',
  '12',
  '--keep-yearly',
  '2',
];
const LABEL = '3l+5h+7d+5w+12m+2y';

/** A seeded timeline of 400 days: on a quarter of the days 1–2 backups at random hours, some failed, some never verified. */
function timeline() {
  let seed = 20261120;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const sets: Array<{ id: string; at: Date; state: 'verified' | 'unverified' | 'failed' }> = [];
  for (let day = 400; day >= 0; day--) {
    const n = random() < 0.75 ? 0 : Math.floor(random() * 2) + 1;
    const hours = new Set<number>();
    for (let i = 0; i < n; i++) hours.add(Math.floor(random() * 24));
    for (const h of [...hours].sort((a, b) => a - b)) {
      const at = new Date(
        Date.UTC(
          NOW.getUTCFullYear(),
          NOW.getUTCMonth(),
          NOW.getUTCDate() - day,
          h,
          Math.floor(random() * 60),
        ),
      );
      if (at >= NOW) continue;
      const roll = random();
      const state = roll < 0.1 ? 'failed' : roll < 0.2 ? 'unverified' : 'verified';
      sets.push({ id: `set-${at.toISOString().replace(/\D/g, '').slice(0, 14)}-${sets.length}`, at, state });
    }
  }
  return sets;
}

let dir: string;
let resticKept: string[];
const sets = timeline();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drbot-keep-'));
  const env = {
    ...process.env,
    RESTIC_REPOSITORY: join(dir, 'repo'),
    RESTIC_PASSWORD: 'keep-rules-test',
    TZ: 'UTC',
  };
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'f'), 'x');
  await run('restic', ['init', '-q'], { env });
  // Only what keep rules count goes to restic: verified sets (failed and unverified never count).
  const limit = pLimit(4);
  await Promise.all(
    sets
      .filter((s) => s.state === 'verified')
      .map((s) =>
        limit(() =>
          run(
            'restic',
            [
              'backup',
              '-q',
              '--host',
              'h',
              '--time',
              s.at.toISOString().slice(0, 19).replace('T', ' '),
              data,
            ],
            { env },
          ),
        ),
      ),
  );
  const { stdout } = await run('restic', ['forget', '--dry-run', '--json', ...FLAGS], {
    env,
    maxBuffer: 64 * 2 ** 20,
  });
  const groups = JSON.parse(stdout) as Array<{ keep: Array<{ time: string }> }>;
  resticKept = (groups[0]?.keep ?? []).map((k) => new Date(k.time).toISOString()).sort();
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keep rules, compared with restic forget on a 400-day timeline', () => {
  it('keeps exactly the verified sets restic keeps, leaves failed sets alone and unverified ones out of the count', async () => {
    const { deps, store } = reportDeps({ app: { tier: 'important', retention: LABEL } }, NOW);
    for (const s of sets) {
      if (s.state === 'failed') {
        const r = store.createRun({
          kind: 'backup',
          requester: 't',
          target: 'app',
          status: 'failed',
          at: s.at,
        });
        store.createSet({ id: s.id, runId: r.id, createdAt: s.at });
        store.updateSet(s.id, { status: 'failed', error: 'disk full' });
      } else recordSet(store, s.id, 'app', s.at, { deepVerified: s.state === 'verified' });
    }

    const { plan } = await planRetention(deps);

    const expired = new Set(plan.expire.map((e) => e.setId));
    const keptVerified = sets
      .filter((s) => s.state === 'verified' && !expired.has(s.id))
      .map((s) => s.at.toISOString())
      .sort();
    expect(resticKept.length).toBeGreaterThan(15);
    expect(keptVerified).toEqual(resticKept);
    // Which rule keeps what is known (what `policy` and `prune --dry-run` show).
    expect([...(plan.keptByRules.get('app')?.keys() ?? [])].length).toBe(resticKept.length);
    // Unverified sets: kept only while newer than the newest verified one; failed sets are not retention's.
    const newestVerified = Math.max(...sets.filter((s) => s.state === 'verified').map((s) => s.at.getTime()));
    for (const s of sets.filter((x) => x.state === 'unverified'))
      expect(expired.has(s.id)).toBe(s.at.getTime() < newestVerified);
    for (const s of sets.filter((x) => x.state === 'failed')) expect(expired.has(s.id)).toBe(false);
  });
});
