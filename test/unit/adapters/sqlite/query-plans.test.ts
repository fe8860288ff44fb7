import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../../src/adapters/metrics/prometheus.js';
import { migrate } from '../../../../src/adapters/sqlite/migrations.js';
import { SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { Engine } from '../../../../src/engine/engine.js';
import { RpoMonitor } from '../../../../src/scheduler/rpo-monitor.js';
import { HOUR, recordSet, reportDeps } from '../../../fixtures/report-deps.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 24 * HOUR;
/** The tables that grow with the catalog: no read may walk all of them. */
const BIG = ['sets', 'artifacts', 'locations', 'run_events'];

interface Statement {
  sql: string;
  params: unknown[];
}

/** A state in memory whose every statement (and its parameters) is recorded while `recording`. */
function recordingStore() {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db);
  const seen: Statement[] = [];
  const state = { recording: false, rows: 0 };
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const st = prepare(sql);
    for (const method of ['get', 'all', 'iterate', 'run'] as const) {
      const original = st[method].bind(st) as (...a: unknown[]) => unknown;
      (st as unknown as Record<string, unknown>)[method] = (...params: unknown[]) => {
        if (state.recording) seen.push({ sql, params });
        const out = original(...params);
        if (!state.recording || method === 'run') return out;
        if (method === 'all') state.rows += (out as unknown[]).length;
        if (method === 'get') state.rows += out === undefined ? 0 : 1;
        if (method !== 'iterate') return out;
        return (function* counted() {
          for (const row of out as Iterable<unknown>) {
            state.rows++;
            yield row;
          }
        })();
      };
    }
    return st;
  }) as typeof db.prepare;
  return { db, store: new SqliteStore(db), seen, state, explain: prepare };
}

/** A year and a half of sets of three volumes, some deep-verified, some pruned, runs with events. */
function seed(store: SqliteStore, extra = 0) {
  // More history of the critical volume (7 years' retention: none of it expires).
  for (let i = 0; i < extra; i++)
    recordSet(
      store,
      `set-uploads-x${String(i).padStart(5, '0')}`,
      'uploads',
      new Date(NOW.getTime() - 500 * DAY + i * HOUR),
      {
        deepVerified: i % 50 === 0,
      },
    );
  for (let i = 0; i < 60; i++) {
    const at = new Date(NOW.getTime() - (60 - i) * 9 * DAY);
    for (const asset of ['uploads', 'media', 'logs']) {
      const id = `set-${asset}-${String(i).padStart(3, '0')}`;
      recordSet(store, id, asset, at, { deepVerified: i % 7 === 0 });
    }
  }
  const old = store.getSet('set-logs-000');
  const artifact = old?.artifacts[0];
  if (artifact)
    store.updateArtifact(artifact.id, { status: 'pruned', prunedAt: new Date(NOW.getTime() - 200 * DAY) });
  for (const run of store.listRuns(50)) {
    store.appendEvent(run.id, { at: NOW, stage: 'dump', type: 'info', message: 'dumped' });
    store.updateRun(run.id, {
      endedAt: run.createdAt,
      startedAt: run.createdAt,
      result: { assets: [run.target] },
    });
  }
  const failed = store.createRun({
    kind: 'backup',
    requester: 't',
    target: 'media',
    status: 'running',
    at: NOW,
  });
  store.updateRun(failed.id, {
    status: 'failed',
    endedAt: NOW,
    error: 'disk full',
    result: { assets: ['media'] },
  });
}

/** The plan lines of every read statement recorded, with the names each big table goes by. */
function fullScans(explain: (sql: string) => Database.Statement, statements: Statement[]) {
  const found: string[] = [];
  for (const { sql, params } of statements) {
    if (!/^\s*(SELECT|WITH)\b/i.test(sql)) continue;
    const names = new Set<string>(BIG);
    for (const m of sql.matchAll(/\b(sets|artifacts|locations|run_events)\s+(?:AS\s+)?([a-z_]\w*)/gi)) {
      const alias = m[2] as string;
      if (!/^(WHERE|JOIN|ON|ORDER|GROUP|LIMIT|INDEXED|LEFT|INNER|AND|SET|VALUES)$/i.test(alias))
        names.add(alias);
    }
    const plan = explain(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
    for (const { detail } of plan) {
      const m = /^SCAN (\w+)/.exec(detail);
      if (m && names.has(m[1] as string))
        found.push(`${detail}  ←  ${sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    }
  }
  return found;
}

describe('catalog reads use indexes (EXPLAIN QUERY PLAN)', () => {
  it('finds a full scan when a read has one (the check itself works)', () => {
    const { store, seen, state, explain } = recordingStore();
    seed(store);
    state.recording = true;
    store.listSets({ status: ['complete'] }).length;
    (explain('SELECT COUNT(*) FROM run_events WHERE message = ?') as Database.Statement).get('x');
    seen.push({ sql: 'SELECT COUNT(*) FROM run_events WHERE message = ?', params: ['x'] });
    const scans = fullScans(explain, seen);
    expect(scans.some((s) => s.startsWith('SCAN run_events'))).toBe(true);
  });

  it('status, policy, runs, run, metrics, the RPO sweep and retention planning scan no big table', async () => {
    const { store, seen, state, explain } = recordingStore();
    seed(store);
    const { deps } = reportDeps(
      {
        uploads: { tier: 'critical' },
        media: { tier: 'important', retention: '2d+3w+2m' },
        logs: { tier: 'logs' },
      },
      NOW,
    );
    const engine = new Engine({ ...deps, store });
    const monitor = new RpoMonitor(engine, { report: async () => undefined, alert: async () => undefined });
    const metrics = createMetrics(engine);
    const newestRun = engine.runs(1)[0]?.id as string;
    const oldRun = engine.runs(5, newestRun).at(-1)?.id as string;

    state.recording = true;
    const status = await engine.status();
    await engine.policy();
    engine.runs(10);
    engine.runs(10, oldRun);
    engine.run(newestRun);
    engine.run(oldRun);
    await metrics.registry.metrics();
    await monitor.check(NOW);
    const retention = await engine.planRetention();
    await engine.compactCatalog();
    state.recording = false;

    // The reads answered (so the statements recorded are the ones that did the work).
    expect(status.assets.map((a) => [a.asset.name, a.newest?.setId])).toEqual([
      ['logs', 'set-logs-059'],
      ['media', 'set-media-059'],
      ['uploads', 'set-uploads-059'],
    ]);
    expect(retention.plan.expire.length).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(20);
    expect(fullScans(explain, seen)).toEqual([]);
  });
});

/** Every read a person or the app makes, on a catalog of `extra` more sets; the rows they read. */
async function rowsRead(extra: number): Promise<{ rows: number; statements: number }> {
  const { store, seen, state } = recordingStore();
  seed(store, extra);
  const { deps } = reportDeps(
    {
      uploads: { tier: 'critical' },
      media: { tier: 'important', retention: '2d+3w+2m' },
      logs: { tier: 'logs' },
    },
    NOW,
  );
  const engine = new Engine({ ...deps, store });
  const monitor = new RpoMonitor(engine, { report: async () => undefined, alert: async () => undefined });
  const metrics = createMetrics(engine);
  const newestRun = engine.runs(1)[0]?.id as string;
  state.recording = true;
  await engine.status();
  await engine.policy();
  engine.runs(10);
  engine.run(newestRun);
  await metrics.registry.metrics();
  await monitor.check(NOW);
  await engine.planRetention();
  return { rows: state.rows, statements: seen.length };
}

describe('the reads do not grow with the catalog', () => {
  it('reads the same rows with 180 sets as with 1,380', async () => {
    const small = await rowsRead(0);
    const large = await rowsRead(1200);
    expect(small.rows).toBeGreaterThan(0);
    expect(large).toEqual(small);
  });
});
