// `prune --dry-run` and `policy` show what keep rules keep and what retention would delete, deleting nothing.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { dispatch } from '../../../src/front/dispatch.js';
import { createLogger } from '../../../src/log.js';
import { HOUR, recordSet, reportDeps } from '../../fixtures/report-deps.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const DAY = 24 * HOUR;
const log = createLogger({ level: 'silent' });

function shop() {
  const { deps, store } = reportDeps({ app: { tier: 'important', retention: '2d+2m' } }, NOW);
  // Verified daily sets for 90 days, and two unverified sets from today.
  for (let d = 90; d >= 1; d--)
    recordSet(store, `set-d${String(d).padStart(3, '0')}`, 'app', new Date(NOW.getTime() - d * DAY), {
      deepVerified: true,
    });
  recordSet(store, 'set-today-1', 'app', new Date(NOW.getTime() - 2 * HOUR), { deepVerified: false });
  recordSet(store, 'set-today-2', 'app', new Date(NOW.getTime() - HOUR), { deepVerified: false });
  return { engine: new Engine(deps), store };
}

describe('prune --dry-run', () => {
  it('lists what would go and what the keep rules keep, and deletes nothing', async () => {
    const { engine, store } = shop();
    const before = store.listSets({ status: ['complete'] }).length;

    const reply = await dispatch(['prune', '--dry-run'], { engine, requester: 'U1', log });

    expect(reply.exitCode).toBe(0);
    expect(reply.text).toContain('dry run: nothing is deleted');
    // 2 daily (the newest two days) + 2 monthly (newest of this month and of last month).
    expect(reply.text).toMatch(
      /kept by keep rules: set-d001 \(daily, monthly\), set-d002 \(daily\), set-d\d{3} \(monthly\)/,
    );
    expect(reply.text).toContain('kept until verified (newer than the newest verified): set-today-1');
    expect(reply.text).toContain('always kept (newest, newest verified): set-today-2, set-d001');
    expect(reply.text).toMatch(/app: would delete 87: set-d003, set-d004, .* … and 75 more/);
    expect(store.listSets({ status: ['complete'] }).length).toBe(before);
  });

  it('without --dry-run is refused, saying where retention runs', async () => {
    const { engine } = shop();
    const reply = await dispatch(['prune'], { engine, requester: 'U1', log });
    expect(reply.exitCode).toBe(2);
    expect(reply.text).toContain('prune needs --dry-run');
  });

  it('policy shows which sets each keep rule keeps', async () => {
    const { engine } = shop();
    const reply = await dispatch(['policy'], { engine, requester: 'U1', log });
    expect(reply.text).toContain('keep rules of app (keep 2 daily, 2 monthly), verified sets only:');
    expect(reply.text).toMatch(/daily\s+set-d001, set-d002/);
    expect(reply.text).toMatch(/monthly\s+set-d001, set-d\d{3}/);
  });
});
