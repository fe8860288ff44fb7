// The scale benchmark's synthetic catalog: N backup sets written straight into a state file the app made, cached by (N, seed, schema).
//
// The file is first created by the app's own `openSqliteStore` (dist/), so its schema and
// migrations are exactly the app's; rows then go in with raw SQL through one connection,
// prepared statements and big transactions. Summary tables kept by triggers (run assets, run
// counts, catalog assets) fill themselves as the rows arrive, as they do in the app.
//
// Everything the generator writes is in ROWS below: when a migration adds a column, give it a
// value there (a new NOT NULL column without a default stops generation, naming it).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';

const REPO = resolve(import.meta.dirname, '..', '..');
const DIST = join(REPO, 'dist', 'src');

/** Minutes between two sets: the `realtime` schedule. */
export const SET_INTERVAL_MS = 5 * 60_000;
/** Every this many sets one was deep-verified (once a day at 5-minute backups). */
const DEEP_EVERY = 288;
/** Every this many sets one failed (its run too). */
const FAIL_EVERY = 997;
/** The oldest this share of sets were pruned by retention. */
const PRUNED_SHARE = 0.02;
const TARGETS = ['local', 's3'];
/** Part of the cache key: bump it whenever what the generator writes changes. */
const GENERATOR_VERSION = 1;

/**
 * The catalog's assets: three volumes and two databases, named as the bench's Docker fixture
 * names them (bench/scale.mjs creates the volumes and points both databases at its MariaDB).
 */
export const SCALE_ASSETS = [
  { name: 'bench-db', kind: 'mysql-dump', file: 'bench-db.sql.gz', database: true },
  { name: 'bench-db-2', kind: 'mysql-dump', file: 'bench-db-2.sql.gz', database: true },
  { name: 'drbot-scale-files-1', kind: 'volume-tar', file: 'drbot-scale-files-1.tar.gz' },
  { name: 'drbot-scale-files-2', kind: 'volume-tar', file: 'drbot-scale-files-2.tar.gz' },
  { name: 'drbot-scale-files-3', kind: 'volume-tar', file: 'drbot-scale-files-3.tar.gz' },
];

/** Deterministic 32-bit generator (mulberry32). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const iso = (ms) => new Date(ms).toISOString();
const hex = (rand, chars) => {
  let s = '';
  while (s.length < chars) s += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, chars);
};
function setId(t, suffix) {
  return `set-${t.slice(0, 10).replaceAll('-', '')}-${t.slice(11, 19).replaceAll(':', '')}-${suffix}`;
}
const setDir = (id, t) => {
  return `${t.slice(0, 4)}/${t.slice(5, 7)}/${t.slice(8, 10)}/${id}`;
};

/**
 * One set's worth of facts, from (index, seed) only: `i` 0 is the oldest, N-1 the newest at
 * `anchor`. The row builders below read from this.
 */
function setFacts(i, n, anchor, rand) {
  const created = anchor - (n - 1 - i) * SET_INTERVAL_MS;
  const failed = i % FAIL_EVERY === FAIL_EVERY - 1 && i < n - 1;
  const pruned = !failed && i < Math.floor(n * PRUNED_SHARE);
  const deep = !failed && !pruned && i % DEEP_EVERY === 0;
  const suffix = hex(rand, 4);
  const createdIso = iso(created);
  const id = setId(createdIso, suffix);
  const ms = 30_000 + Math.floor(rand() * 90_000);
  // Pruned sets went over the last 60 days, oldest first: half of them more than 30 days ago
  // (catalog upkeep removes those rows), half since (their rows stay a while).
  const prunedShare = Math.floor(n * PRUNED_SHARE) || 1;
  const prunedAt = pruned ? anchor - 60 * 86_400_000 + Math.floor((i / prunedShare) * 59 * 86_400_000) : 0;
  return {
    i,
    seq: i + 1,
    runId: `run-${i + 1}`,
    id,
    created,
    ended: created + ms,
    failed,
    pruned,
    prunedAt,
    deep,
    dir: setDir(id, createdIso),
    // Times as the state file stores them, each made once.
    createdIso,
    startedIso: iso(created + 200),
    endedIso: iso(created + ms),
    verifiedIso: iso(created + ms + 1000),
    deepIso: deep ? iso(created + ms + 20 * 60_000) : null,
    prunedIso: pruned ? iso(prunedAt) : null,
    error: failed ? 'bench-db-2: mariadb-dump exited with 2: Lost connection to server during query' : null,
  };
}

// -------------------------------------------------------------------------------------------
// The rows. Each table: [column, value(ctx)] for every column the generator knows; columns the
// schema does not have (yet) are skipped, and a NOT NULL column without default that is not
// here stops generation with its name.
// -------------------------------------------------------------------------------------------

const RUN_ROWS = [
  ['seq', (f) => f.seq],
  ['id', (f) => f.runId],
  ['kind', () => 'backup'],
  ['requester', () => 'scheduler'],
  ['target', () => 'schedule */5 * * * *'],
  ['status', (f) => (f.failed ? 'failed' : 'succeeded')],
  ['created_at', (f) => f.createdIso],
  ['started_at', (f) => f.startedIso],
  ['ended_at', (f) => f.endedIso],
  ['error', (f) => f.error],
  [
    'result',
    (f) =>
      JSON.stringify({
        assets: SCALE_ASSETS.map((a) => a.name),
        setId: f.id,
        failures: f.failed ? [f.error] : [],
        skipped: [],
        pruned: 0,
      }),
  ],
  ['owner', () => 'bench-host:1'],
  ['cancel_requested_at', () => null],
  ['cancel_requested_by', () => null],
  ['events_summary', () => null],
];

/** Ten events per run: the backup stage with a line per asset, then the prune stage. */
function runEvents(f) {
  const at = (k) => iso(f.created + 200 + k * Math.floor((f.ended - f.created) / 12));
  const ev = [
    [at(0), 'backup', 'stage-start', 'backup started', null],
    ...SCALE_ASSETS.map((a, k) => [
      at(1 + k),
      'backup',
      f.failed && a.name === 'bench-db-2' ? 'error' : 'info',
      f.failed && a.name === 'bench-db-2'
        ? `${a.name}: ${f.error}`
        : `${a.name}: ${a.file} written to local, s3 and confirmed`,
      JSON.stringify({ asset: a.name }),
    ]),
    [at(6), 'backup', 'stage-end', f.failed ? 'backup failed' : 'backup done', null],
    [at(7), 'prune', 'stage-start', 'prune started', null],
    [at(8), 'prune', 'info', 'nothing has expired', null],
    [at(9), 'prune', 'stage-end', 'prune done', null],
  ];
  return ev.map(([evAt, stage, type, message, data]) => ({ runId: f.runId, at: evAt, stage, type, message, data }));
}

const EVENT_ROWS = [
  ['run_id', (e) => e.runId],
  ['at', (e) => e.at],
  ['stage', (e) => e.stage],
  ['type', (e) => e.type],
  ['message', (e) => e.message],
  ['data', (e) => e.data],
];

const SET_ROWS = [
  ['id', (f) => f.id],
  ['run_id', (f) => f.runId],
  ['created_at', (f) => f.createdIso],
  ['completed_at', (f) => (f.failed ? null : f.endedIso)],
  ['status', (f) => (f.failed ? 'failed' : f.pruned ? 'pruned' : 'complete')],
  ['error', (f) => f.error],
  ['verified_at', (f) => (f.failed ? null : f.verifiedIso)],
  ['deep_verified_at', (f) => f.deepIso],
  ['purpose', () => 'backup'],
];

const ARTIFACT_ROWS = [
  ['id', (a) => a.id],
  ['set_id', (a) => a.f.id],
  ['asset', (a) => a.asset.name],
  ['kind', (a) => a.asset.kind],
  ['file', (a) => a.asset.file],
  ['size', (a) => (a.status === 'failed' ? null : a.size)],
  ['raw_size', (a) => (a.status === 'failed' ? null : a.size * 4)],
  ['sha256', (a) => (a.status === 'failed' ? null : a.sha)],
  ['compression', () => 'gzip'],
  ['engine_version', (a) => (a.asset.database ? '11.8.3-MariaDB' : null)],
  ['started_at', (a) => a.f.startedIso],
  ['ended_at', (a) => a.f.endedIso],
  ['status', (a) => a.status],
  ['pruned_at', (a) => (a.status === 'pruned' ? a.f.prunedIso : null)],
  [
    'meta',
    (a) =>
      a.asset.database
        ? '{"container":"drbot-bench-mariadb","engine":"mariadb","user":"root","passwordEnv":"MYSQL_ROOT_PASSWORD"}'
        : '{"labels":{"tier":"scale"}}',
  ],
  ['verified_at', (a) => (a.status === 'complete' ? a.f.verifiedIso : null)],
  ['deep_verified_at', (a) => a.f.deepIso],
  ['verify_error', () => null],
  // Migration 5: the artifact carries its set's time.
  ['set_created_at', (a) => a.f.createdIso],
];

const LOCATION_ROWS = [
  ['artifact_id', (l) => l.a.id],
  ['target', (l) => l.target],
  ['key', (l) => `${l.a.f.dir}/${l.a.asset.file}`],
  [
    'status',
    (l) => (l.a.status === 'pruned' ? 'deleted' : l.a.status === 'failed' ? 'failed' : 'confirmed'),
  ],
  ['confirmed_at', (l) => (l.a.status === 'complete' ? l.a.f.endedIso : null)],
];

const TABLES = [
  ['runs', RUN_ROWS],
  ['run_events', EVENT_ROWS],
  ['sets', SET_ROWS],
  ['artifacts', ARTIFACT_ROWS],
  ['locations', LOCATION_ROWS],
];

/** An INSERT for the columns of `rows` the table has, and the value getters in its order. */
function inserter(db, table, rows) {
  const info = db.prepare(`PRAGMA table_info(${table})`).all();
  if (!info.length) throw new Error(`the state schema has no table ${table}: update bench/lib/scale-catalog.mjs`);
  const have = new Set(info.map((c) => c.name));
  const known = new Set(rows.map(([c]) => c));
  const missing = info.filter((c) => c.notnull && c.dflt_value === null && !c.pk && !known.has(c.name));
  if (missing.length)
    throw new Error(
      `${table} has NOT NULL column(s) ${missing.map((c) => c.name).join(', ')} the generator does not fill: add them to bench/lib/scale-catalog.mjs`,
    );
  const used = rows.filter(([c]) => have.has(c));
  const stmt = db.prepare(
    `INSERT INTO ${table} (${used.map(([c]) => c).join(', ')}) VALUES (${used.map(() => '?').join(', ')})`,
  );
  const getters = used.map(([, g]) => g);
  const values = new Array(getters.length);
  return (ctx) => {
    for (let k = 0; k < getters.length; k++) values[k] = getters[k](ctx);
    stmt.run(values);
  };
}

/** What identifies the schema: its version and the text of every migration (a changed one counts). */
async function schemaKey() {
  const m = await import(join(DIST, 'adapters', 'sqlite', 'migrations.js'));
  const hash = createHash('sha256')
    .update(m.MIGRATIONS.join('\n'))
    .update(`generator ${GENERATOR_VERSION}`)
    .digest('hex');
  return { version: m.SCHEMA_VERSION, hash: hash.slice(0, 12) };
}

/**
 * Writes a catalog of `n` sets to `file` (which must not exist), with the newest set at
 * `anchor` (ms). Returns counts and timings.
 */
export async function generateCatalog({ file, n, seed, anchor, log = () => {} }) {
  const t0 = performance.now();
  const { openSqliteStore } = await import(join(DIST, 'adapters', 'sqlite', 'sqlite-store.js'));
  openSqliteStore(file).close();
  const db = new Database(file);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('foreign_keys = OFF');
  db.pragma('cache_size = -262144');
  db.pragma('temp_store = MEMORY');
  // Secondary indexes are dropped and made again at the end (one sorted build each is far
  // faster than 26M scattered inserts); triggers stay, so summaries fill as in the app.
  const indexes = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    .all();
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
  const insert = Object.fromEntries(TABLES.map(([t, rows]) => [t, inserter(db, t, rows)]));
  const rand = prng(seed);
  let artifactId = 0;
  const counts = { runs: 0, run_events: 0, sets: 0, artifacts: 0, locations: 0 };
  const BATCH = 20_000;
  const batch = db.transaction((from, to) => {
    for (let i = from; i < to; i++) {
      const f = setFacts(i, n, anchor, rand);
      insert.runs(f);
      for (const e of runEvents(f)) insert.run_events(e);
      insert.sets(f);
      for (const asset of SCALE_ASSETS) {
        const a = {
          id: ++artifactId,
          f,
          asset,
          status: f.failed ? 'failed' : f.pruned ? 'pruned' : 'complete',
          size: 1_000_000 + Math.floor(rand() * 50_000_000),
          sha: hex(rand, 64),
        };
        insert.artifacts(a);
        for (const target of TARGETS) insert.locations({ a, target });
      }
    }
    counts.runs += to - from;
    counts.sets += to - from;
    counts.run_events += (to - from) * 10;
    counts.artifacts += (to - from) * SCALE_ASSETS.length;
    counts.locations += (to - from) * SCALE_ASSETS.length * TARGETS.length;
  });
  let lastLog = performance.now();
  for (let from = 0; from < n; from += BATCH) {
    batch(from, Math.min(n, from + BATCH));
    if (performance.now() - lastLog > 10_000) {
      log(`   catalog: ${Math.min(n, from + BATCH).toLocaleString('en')} / ${n.toLocaleString('en')} sets`);
      lastLog = performance.now();
    }
  }
  const rowsMs = performance.now() - t0;
  for (const ix of indexes) db.exec(ix.sql);
  const indexMs = performance.now() - t0 - rowsMs;
  db.pragma('journal_mode = WAL');
  db.close();
  // Opened once more by the app's own code: it must accept the file as its own.
  openSqliteStore(file).close();
  const totalRows = Object.values(counts).reduce((x, y) => x + y, 0);
  return { counts, totalRows, rowsMs, indexMs, ms: performance.now() - t0 };
}

/**
 * The catalog of (n, seed) for the built schema: from the cache when generated before, else
 * generated into the cache. Returns the cached file (copy it before writing to it) and its facts.
 */
export async function cachedCatalog({ n, seed, cacheDir = join(tmpdir(), 'drbot-scale-cache'), log = () => {} }) {
  const schema = await schemaKey();
  mkdirSync(cacheDir, { recursive: true });
  const base = join(cacheDir, `catalog-n${n}-s${seed}-v${schema.version}-${schema.hash}`);
  const file = `${base}.sqlite`;
  const metaFile = `${base}.json`;
  if (existsSync(file) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    log(`   catalog of ${n.toLocaleString('en')} sets from the cache (${file})`);
    return { file, ...meta, cached: true };
  }
  const tmp = `${base}.tmp-${process.pid}.sqlite`;
  rmSync(tmp, { force: true });
  // The newest set is on a 5-minute slot; the bench's clock runs from here (see scale.mjs).
  const anchor = Math.floor(Date.now() / SET_INTERVAL_MS) * SET_INTERVAL_MS;
  log(`   generating a catalog of ${n.toLocaleString('en')} sets (seed ${seed}, schema v${schema.version})`);
  const g = await generateCatalog({ file: tmp, n, seed, anchor, log });
  for (const ext of ['-wal', '-shm']) rmSync(`${tmp}${ext}`, { force: true });
  renameSync(tmp, file);
  const meta = {
    n,
    seed,
    schema,
    anchor,
    generatedAt: new Date().toISOString(),
    generateMs: g.ms,
    rowsMs: g.rowsMs,
    indexMs: g.indexMs,
    counts: g.counts,
    totalRows: g.totalRows,
    bytes: statSync(file).size,
  };
  writeFileSync(metaFile, `${JSON.stringify(meta, null, 2)}\n`);
  return { file, ...meta, cached: false };
}

/** Ids the reads ask for: the newest and oldest runs, and a run deep in history to page from. */
export function landmarks(n) {
  return {
    newestRun: `run-${n}`,
    oldestRun: 'run-1',
    deepRun: `run-${Math.max(1, Math.floor(n / 2))}`,
  };
}
