// The container-runtime port: what the engine asks of Docker (inventory, exec, volumes, host specs).
import type { Readable } from 'node:stream';
import type { ContainerSpec, NetworkSpec, VolumeSpec } from '../domain/host-spec.js';

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

/** A container or volume drbot made for its own work (see `listHelpers`). */
export interface HelperObject {
  kind: 'container' | 'volume';
  /** What `removeContainer` / `removeVolume` take (a container's id when it has no name of ours). */
  ref: string;
  /** For messages. */
  name: string;
  /**
   * `scratch`: made by a run for its own use (deep verify, staging, helpers), `runId` says which;
   * `anchor`: a never-started container that mounts a volume for the archive API (it pins the
   * volume: `docker volume rm` fails while it exists); `volume` names the volume.
   */
  role: 'scratch' | 'anchor';
  runId: string | undefined;
  volume: string | undefined;
  /**
   * The latest it can have been created, by this host's clock (the engine reports seconds, and
   * its clock may be a little off); undefined when the engine does not say.
   */
  createdBy: Date | undefined;
  /** Made by this process and still in use by it (an anchor whose archive is open). */
  inUse: boolean;
}

/** What a scratch container (deep verify, recovery tests) is made of. */
export interface ScratchContainerSpec {
  name: string;
  image: string;
  /** `KEY=value` entries; may hold a scratch password (never logged). */
  env: string[];
  labels: Record<string, string>;
  cmd?: string[];
  /** Replaces the image's entrypoint (a container kept idle for `exec`, e.g. `sleep infinity`). */
  entrypoint?: string[];
  /** CPU (in billionths of a CPU, Docker's NanoCpus) and memory caps; 0 or absent = none. */
  limits?: { nanoCpus: number; memoryBytes: number };
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
  /**
   * Creates a named volume with its labels; `options` carries a recorded volume's driver and
   * driver options over to its re-creation. Without them, the engine's default driver.
   */
  createVolume(
    name: string,
    labels: Record<string, string>,
    options?: { driver?: string; driverOpts?: Record<string, string> },
  ): Promise<void>;
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
  /**
   * The containers and volumes drbot made for itself and would remove when done: runs'
   * scratch (label `drbot.scratch=<run id>`) and volume anchors. To find what a dead process
   * left behind. A runtime without it (an in-memory fake) has nothing of the kind to leave.
   */
  listHelpers?(): Promise<HelperObject[]>;

  // Host specs (DESIGN §9): what a backup set records, and what a bare-host restore re-creates.

  /**
   * What it takes to create the container again, from the engine's inspect answer; undefined
   * when there is no such container. Secret env values are dropped (names kept): those
   * matching the usual words, and `secretNames` (the config's `passwordEnv`s).
   */
  containerSpec(name: string, secretNames?: ReadonlySet<string>): Promise<ContainerSpec | undefined>;
  /** A network's driver, IPAM, options and labels; undefined when there is no such network. */
  networkSpec(name: string): Promise<NetworkSpec | undefined>;
  /** A volume's driver, options and labels; undefined when there is no such volume. */
  volumeSpec(name: string): Promise<VolumeSpec | undefined>;
  /** Names of all networks, the engine's own (`bridge`, `host`, `none`) included. */
  listNetworks(): Promise<string[]>;
  /** Whether the engine has the image locally (a tag or an id). */
  imagePresent(ref: string): Promise<boolean>;
  /** Pulls an image; throws DOCKER_FAILED naming the image and the engine's reason. */
  pullImage(ref: string): Promise<void>;
  /** Creates a network from its spec; one of that name already there is left as it is. */
  createNetwork(spec: NetworkSpec): Promise<void>;
  /**
   * Creates (does not start) a container from a recorded spec, attached to all its networks
   * with their aliases and static addresses. `env` is the full `KEY=value` list, secret values
   * filled in by the caller (see `envList`). The image and networks must exist, and the volumes
   * should (the engine would make unlabelled ones); a bind mount whose host path is missing is
   * an error rather than an empty directory.
   */
  createContainer(spec: ContainerSpec, env: string[]): Promise<void>;
}
