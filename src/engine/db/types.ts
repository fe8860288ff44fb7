// What the database steps need to talk to one live (or scratch) database server.
import type { DbEngine } from '../../domain/assets.js';
import type { ContainerRuntime } from '../../ports/container-runtime.js';

/** A database server reached through its container's own client; the password goes by env. */
export interface DbTarget {
  runtime: ContainerRuntime;
  container: string;
  engine: DbEngine;
  user: string;
  password: string;
  /** Asset name, for error messages. */
  asset: string;
}
