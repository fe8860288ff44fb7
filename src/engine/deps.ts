// The ports the engine is built on, handed in once by the wiring.
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { BackupTarget } from '../ports/backup-target.js';
import type { Clock } from '../ports/clock.js';
import type { ContainerRuntime } from '../ports/container-runtime.js';
import type { StateStore } from '../ports/state-store.js';
import type { RunObserver } from './runs/run-context.js';

/** Everything the engine works with, all behind ports. */
export interface EngineDeps {
  config: Config;
  runtime: ContainerRuntime;
  /** Every target, the local directory first; all are required for a set to be complete. */
  targets: BackupTarget[];
  store: StateStore;
  clock: Clock;
  log: Logger;
  observer?: RunObserver;
  /** drbot's own environment: secret values for containers a bare-host restore re-creates. */
  env?: Record<string, string | undefined>;
}
