// An Engine built on the in-memory fakes (runtime, two targets, clock) and SQLite in memory, with a small shop to protect.
import { Writable } from 'node:stream';
import { openSqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { buildConfig, type Config } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import { createLogger } from '../../src/log.js';
import type { StateStore } from '../../src/ports/state-store.js';
import { FakeClock } from './fake-clock.js';
import { FakeRuntime } from './fake-runtime.js';
import { FakeTarget } from './fake-target.js';

export interface FakeWorld {
  engine: Engine;
  runtime: FakeRuntime;
  /** Copy 1 (`local`), where safety snapshots go. */
  local: FakeTarget;
  s3: FakeTarget;
  clock: FakeClock;
  store: StateStore;
  config: Config;
  logLines: string[];
  close(): void;
}

/** The database the shop keeps its orders in, and the uploads volume its web container serves. */
export const SHOP = {
  database: 'main',
  dbContainer: 'db',
  password: 'shop-root-pw',
  content: 'orders v1',
  volume: 'uploads',
  files: { 'a.txt': 'alpha', 'docs/b.txt': 'beta' },
  web: 'web',
} as const;

/**
 * The shop on a fake host: MariaDB `db` (database `main`, tier critical, config-declared),
 * volume `uploads` (tier important) mounted by the running service `web`. Compression is zlib
 * so no external program runs; everything else is the default configuration.
 */
export function engineOnFakes(
  options: {
    /** Keys over the shop's configuration (a `databases` list replaces the shop's). */
    config?: Record<string, unknown>;
    /** More on the host before the engine looks at it. */
    arrange?: (runtime: FakeRuntime) => void;
  } = {},
): FakeWorld {
  const clock = new FakeClock();
  const runtime = new FakeRuntime(() => clock.now());
  runtime.addDatabase({
    name: SHOP.dbContainer,
    engine: 'mariadb',
    password: SHOP.password,
    content: SHOP.content,
  });
  runtime.addVolume(SHOP.volume, { labels: { tier: 'important' }, files: { ...SHOP.files } });
  runtime.addContainer({ name: SHOP.web, image: 'example/web:1', mounts: { [SHOP.volume]: '/srv/uploads' } });
  options.arrange?.(runtime);

  const config = buildConfig({
    state: ':memory:',
    backup: { compressor: 'zlib' },
    databases: [{ name: SHOP.database, container: SHOP.dbContainer, engine: 'mariadb', tier: 'critical' }],
    services: [{ container: SHOP.web }],
    ...options.config,
  });
  const store = openSqliteStore(':memory:');
  const local = new FakeTarget('local', { freeBytes: 50 * 2 ** 30 });
  const s3 = new FakeTarget('s3');
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = createLogger({ destination, level: 'info' });
  const engine = new Engine({ config, runtime, targets: [local, s3], store, clock, log });
  return { engine, runtime, local, s3, clock, store, config, logLines, close: () => store.close() };
}
