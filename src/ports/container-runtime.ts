import type { Readable } from 'node:stream';

/** A Docker named volume as the engine reports it. */
export interface VolumeInfo {
  name: string;
  labels: Record<string, string>;
  createdAt: string | undefined;
}

export interface MountInfo {
  /** Named volume, when the mount is one (bind mounts have none). */
  volume: string | undefined;
  destination: string;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  running: boolean;
  state: string;
  labels: Record<string, string>;
  mounts: MountInfo[];
}

export interface ExecOptions {
  cmd: string[];
  /** `KEY=value` entries passed through the exec's environment — never argv. */
  env?: string[];
  user?: string;
  /** Fed to the process's stdin, which is closed when this stream ends. */
  stdin?: Readable;
}

/** What a scratch container (deep verify, recovery tests) is made of. */
export interface ScratchContainerSpec {
  name: string;
  image: string;
  /** `KEY=value` entries; may hold a scratch password (never logged). */
  env: string[];
  labels: Record<string, string>;
  cmd?: string[];
}

export interface ExecResult {
  exitCode: number;
  /** The last few KiB the process wrote to stderr. */
  stderrTail: string;
}

/** A running exec whose stdout is streamed with backpressure. */
export interface ExecStream {
  stdout: Readable;
  /** Settles when the process has exited (after stdout ended). */
  done: Promise<ExecResult>;
}

/**
 * The container engine as the engine needs it. Implemented by the Docker adapter; unit tests
 * use an in-memory fake.
 */
export interface ContainerRuntime {
  /** Throws DOCKER_UNREACHABLE with the cause when the engine does not answer. */
  ping(): Promise<void>;
  listVolumes(): Promise<VolumeInfo[]>;
  /** All containers, running or not. */
  listContainers(): Promise<ContainerInfo[]>;
  /** One variable of a container's configured environment (where databases keep passwords). */
  containerEnv(container: string, key: string): Promise<string | undefined>;
  /** Runs a command in a running container; stdout is a stream, the exit code comes with `done`. */
  execStream(container: string, options: ExecOptions): Promise<ExecStream>;
  /** Runs a command to completion and collects its output (for short commands). */
  exec(container: string, options: ExecOptions): Promise<ExecResult & { stdout: string }>;
  /** A tar stream of a volume's content (entries `./…`), through the engine's archive API. */
  exportVolume(volume: string): Promise<{ stream: Readable; done: Promise<void> }>;
  /** Extracts a tar stream into a volume (over what is there), through the archive API. */
  importVolume(volume: string, tar: Readable): Promise<void>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Removes a volume; a missing one is not an error. */
  removeVolume(name: string): Promise<void>;
  /** The container by name, or undefined when there is none. */
  inspectContainer(name: string): Promise<(ContainerInfo & { env: string[] }) | undefined>;
  startContainer(name: string): Promise<void>;
  /** Stops gracefully (SIGTERM, then SIGKILL after `timeoutSeconds`); a stopped one is fine. */
  stopContainer(name: string, timeoutSeconds: number): Promise<void>;
  /** Creates and starts a throw-away container; remove it with `removeContainer`. */
  runScratchContainer(spec: ScratchContainerSpec): Promise<void>;
  /** Removes a container and its anonymous volumes; a missing one is not an error. */
  removeContainer(name: string): Promise<void>;
  /**
   * Runs a one-off container to completion — image, entrypoint argv, volume mounts — then
   * removes it. Used for what the archive API cannot do (deleting files in a volume).
   */
  runOnce(spec: {
    image: string;
    entrypoint: string[];
    mounts: Array<{ volume: string; target: string }>;
    labels: Record<string, string>;
  }): Promise<ExecResult & { stdout: string }>;
  /** Names of containers and volumes carrying a label (to find leftovers). */
  listByLabel(label: string): Promise<{ containers: string[]; volumes: string[] }>;
}
