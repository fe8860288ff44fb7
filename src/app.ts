// Builds the adapters the config asks for and the engine on top of them.
import { DockerRuntime } from './adapters/docker/docker-runtime.js';
import { LocalDirTarget } from './adapters/local-dir/local-target.js';
import { S3Target } from './adapters/s3/s3-target.js';
import { openSqliteStore } from './adapters/sqlite/sqlite-store.js';
import type { Config } from './config.js';
import { Engine } from './engine/engine.js';
import type { RunObserver } from './engine/runs/run-context.js';
import type { Logger } from './log.js';
import type { BackupTarget } from './ports/backup-target.js';
import { type Clock, systemClock } from './ports/clock.js';

export interface App {
  engine: Engine;
  close(): void;
}

/** Builds the adapters the config asks for and the engine on top of them. */
export function buildApp(
  config: Config,
  log: Logger,
  options: { clock?: Clock; observer?: RunObserver } = {},
): App {
  const targets: BackupTarget[] = [new LocalDirTarget(config.storage.local.dir)];
  if (config.storage.s3) targets.push(new S3Target('s3', config.storage.s3, log.child({ adapter: 's3' })));
  for (const [i, o] of config.storage.offsite.entries()) {
    targets.push(new S3Target(`offsite-${i + 1}`, o, log.child({ adapter: `offsite-${i + 1}` })));
  }
  const store = openSqliteStore(config.state);
  const engine = new Engine({
    config,
    runtime: new DockerRuntime(config.docker.host, log.child({ adapter: 'docker' })),
    targets,
    store,
    clock: options.clock ?? systemClock,
    log,
    env: process.env,
    ...(options.observer ? { observer: options.observer } : {}),
  });
  return { engine, close: () => store.close() };
}
