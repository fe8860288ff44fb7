// An in-memory ContainerRuntime: volumes with files, containers (some of them database servers), networks.
import { PassThrough, type Readable } from 'node:stream';
import {
  BUILTIN_NETWORKS,
  type ContainerSpec,
  type NetworkSpec,
  recordEnv,
  type VolumeSpec,
} from '../../src/domain/host-spec.js';
import { AppError, ErrorCode, externalError } from '../../src/errors.js';
import type {
  ContainerInfo,
  ContainerRuntime,
  ExecOptions,
  ExecResult,
  ExecStream,
  HelperObject,
  ScratchContainerSpec,
  VolumeInfo,
} from '../../src/ports/container-runtime.js';
import {
  type ExecFault,
  emit,
  type FakeDatabase,
  failing,
  outputRead,
  PASSWORD_ENVS,
  planExec,
  UnknownCommand,
  writeAll,
} from './fake-exec.js';
import { CONTENT_DB, contentTable, type FakeData, type FakeEngine } from './fake-sql.js';
import { packVolume, unpackInto, type VolumeEntry } from './fake-tar.js';

export type { ExecFault, FakeDatabase } from './fake-exec.js';
export type { FakeEngine } from './fake-sql.js';

export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  env: string[];
  labels: Record<string, string>;
  mounts: Array<{ volume: string; destination: string }>;
  networks: string[];
  state: 'created' | 'running' | 'exited';
  db: FakeDatabase | undefined;
}

export interface FakeVolume {
  name: string;
  labels: Record<string, string>;
  driver: string;
  options: Record<string, string>;
  entries: Map<string, VolumeEntry>;
}

type FileContent = string | Buffer | { data: string | Buffer; mode: number };

const DEFAULTS: Record<FakeEngine, { image: string; version: string; user: string }> = {
  mariadb: { image: 'mariadb:11.4', version: '11.4.2-MariaDB-ubu2404', user: 'root' },
  mysql: { image: 'mysql:8.4', version: '8.4.0', user: 'root' },
  postgres: { image: 'postgres:16', version: '16.4 (Debian 16.4-1.pgdg120+1)', user: 'postgres' },
};

const toEntry = (c: FileContent): VolumeEntry =>
  typeof c === 'string' || Buffer.isBuffer(c)
    ? { type: 'file', data: Buffer.from(c), mode: 0o644 }
    : { type: 'file', data: Buffer.from(c.data), mode: c.mode };

const dockerFailed = (what: string, why: string) =>
  externalError(ErrorCode.DOCKER_FAILED, `${what} failed: ${why}`);

/**
 * The container engine in memory, for unit tests of the engine's runs. Volumes hold files and
 * are exported and imported as real tar streams (`./…` entries, as Docker's archive API);
 * database containers hold a server whose data a dump carries and a load replaces, reached
 * only through the exact commands the engine sends (anything else throws, naming the argv).
 * `ops` records what was done, in order; the `fail…`/`hold…`/`…Ready` methods inject faults.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly volumes = new Map<string, FakeVolume>();
  readonly networks = new Map<string, NetworkSpec>();
  /** Images present, and for database images what server a container made from them runs. */
  readonly images = new Map<string, { engine?: FakeEngine; version?: string; readyAfterPings?: number }>();
  /** What was done, in order: `exec db mariadb-dump …`, `stop web`, `import uploads` … */
  readonly ops: string[] = [];
  /**
   * Commands and SQL statements the fake did not know: each command also threw where it was
   * asked for; each statement made its client exit non-zero.
   */
  readonly unknown: string[] = [];
  /** Containers as they were when removed (a scratch database with what was loaded into it). */
  readonly removed: FakeContainer[] = [];

  private ids = 0;
  private readonly execFaults: Array<{ container: string; program: string; fault: ExecFault }> = [];
  private readonly startFaults: Array<{ match: string | RegExp; reason: string }> = [];
  private readonly exportFaults = new Map<string, { afterBytes: number; error: Error; delayMs: number }>();
  private readonly exportHolds = new Map<string, Promise<void>>();
  private readonly execHandlers = new Map<string, (argv: string[]) => ExecResult & { stdout?: string }>();
  private down: string | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {}

  // --- arranging ---------------------------------------------------------------------------

  addVolume(
    name: string,
    options: { labels?: Record<string, string>; files?: Record<string, FileContent> } = {},
  ): this {
    const entries = new Map<string, VolumeEntry>();
    for (const [path, content] of Object.entries(options.files ?? {})) entries.set(path, toEntry(content));
    this.volumes.set(name, { name, labels: options.labels ?? {}, driver: 'local', options: {}, entries });
    return this;
  }

  addNetwork(name: string, labels: Record<string, string> = {}): this {
    this.networks.set(name, {
      name,
      driver: 'bridge',
      ipam: [],
      options: {},
      labels,
      internal: false,
      attachable: false,
      enableIPv6: false,
    });
    return this;
  }

  addImage(ref: string, db?: { engine: FakeEngine; version?: string; readyAfterPings?: number }): this {
    this.images.set(ref, db ?? {});
    return this;
  }

  addContainer(options: {
    name: string;
    image?: string;
    env?: string[];
    labels?: Record<string, string>;
    /** volume → mount point */
    mounts?: Record<string, string>;
    networks?: string[];
    running?: boolean;
  }): FakeContainer {
    const image = options.image ?? 'example/app:1';
    if (!this.images.has(image)) this.addImage(image);
    const c: FakeContainer = {
      id: this.newId(),
      name: options.name,
      image,
      env: options.env ?? [],
      labels: options.labels ?? {},
      mounts: Object.entries(options.mounts ?? {}).map(([volume, destination]) => ({ volume, destination })),
      networks: options.networks ?? ['bridge'],
      state: options.running === false ? 'exited' : 'running',
      db: undefined,
    };
    this.containers.set(c.name, c);
    return c;
  }

  /** A database server in a container; `content` is the one row of `app.content`. */
  addDatabase(options: {
    name: string;
    engine: FakeEngine;
    image?: string;
    version?: string;
    password?: string;
    /** The password's variable; default the image's usual one. */
    passwordEnv?: string;
    content?: string;
    labels?: Record<string, string>;
    mounts?: Record<string, string>;
    running?: boolean;
    readyAfterPings?: number;
  }): FakeContainer {
    const d = DEFAULTS[options.engine];
    const image = options.image ?? d.image;
    const version = options.version ?? d.version;
    this.addImage(image, { engine: options.engine, version, readyAfterPings: options.readyAfterPings ?? 0 });
    const passwordEnv = options.passwordEnv ?? PASSWORD_ENVS[options.engine][0];
    const c = this.addContainer({
      name: options.name,
      image,
      env: [`${passwordEnv}=${options.password ?? 'secret-pw'}`],
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.mounts ? { mounts: options.mounts } : {}),
      ...(options.running === undefined ? {} : { running: options.running }),
    });
    c.db = this.newDatabase(options.engine, version, options.readyAfterPings ?? 0);
    if (options.content !== undefined) this.setDatabaseContent(options.name, options.content);
    return c;
  }

  // --- reading and changing state as a test ------------------------------------------------

  container(name: string): FakeContainer {
    const c = this.containers.get(name);
    if (!c) throw new Error(`fake runtime: no container ${name}`);
    return c;
  }

  /** The one row of `app.content`, or undefined when the table or database is not there. */
  databaseContent(container: string): string | undefined {
    const db = this.container(container).db;
    if (!db) throw new Error(`fake runtime: ${container} is not a database container`);
    return db.data.get(CONTENT_DB)?.get(contentTable(db.engine))?.[0];
  }

  setDatabaseContent(container: string, content: string): void {
    const db = this.container(container).db;
    if (!db) throw new Error(`fake runtime: ${container} is not a database container`);
    db.data.set(CONTENT_DB, new Map([[contentTable(db.engine), [content]]]));
  }

  /** The files of a volume as path → UTF-8 text. */
  volumeFiles(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [path, e] of this.volume(name).entries)
      if (e.type === 'file') out[path] = e.data.toString('utf8');
    return out;
  }

  writeFile(volume: string, path: string, content: FileContent): void {
    this.volume(volume).entries.set(path, toEntry(content));
  }

  /** Names of containers and volumes that carry a scratch label (what a run left behind). */
  leftovers(label = 'drbot.scratch'): string[] {
    return [
      ...[...this.containers.values()].filter((c) => label in c.labels).map((c) => c.name),
      ...[...this.volumes.values()].filter((v) => label in v.labels).map((v) => v.name),
    ];
  }

  // --- faults ------------------------------------------------------------------------------

  /** `program` in `container` exits with `fault` instead of doing its work. */
  failExec(container: string, program: string, fault: ExecFault): void {
    this.execFaults.push({ container, program, fault: { ...fault } });
  }

  /** Starting a container whose name matches fails with `reason` (scratch names: a RegExp). */
  failStart(match: string | RegExp, reason: string): void {
    this.startFaults.push({ match, reason });
  }

  /** The server answers pings only after this many failed ones, from now and after each start. */
  readyAfterPings(container: string, pings: number): void {
    const db = this.container(container).db;
    if (!db) throw new Error(`fake runtime: ${container} is not a database container`);
    db.readyAfterPings = pings;
    db.pingsLeft = pings;
  }

  neverReady(container: string): void {
    this.readyAfterPings(container, Number.POSITIVE_INFINITY);
  }

  /** Exports of the volume break after `afterBytes` with `error` (the archive API failing). */
  failExport(volume: string, options: { afterBytes?: number; error?: Error; delayMs?: number } = {}): void {
    this.exportFaults.set(volume, {
      afterBytes: options.afterBytes ?? 0,
      error:
        options.error ??
        externalError(ErrorCode.ARCHIVE_FAILED, `archive of volume ${volume} broke off`, {
          asset: volume,
          step: 'archive',
        }),
      delayMs: options.delayMs ?? 0,
    });
  }

  /** Exports of the volume stop short of their end until the returned function is called. */
  holdExport(volume: string): () => void {
    let release = () => {};
    this.exportHolds.set(volume, new Promise<void>((resolve) => (release = resolve)));
    return () => release();
  }

  /** A program the engine runs that the fake does not emulate (a service's health command). */
  handleExec(
    container: string,
    program: string,
    fn: (argv: string[]) => ExecResult & { stdout?: string },
  ): void {
    this.execHandlers.set(`${container}\u0000${program}`, fn);
  }

  /** The engine stops answering (`ping` and every call fail) until `reachable()`. */
  unreachable(reason: string): void {
    this.down = reason;
  }

  reachable(): void {
    this.down = undefined;
  }

  // --- ContainerRuntime: inventory -----------------------------------------------------------

  async ping(): Promise<void> {
    this.up();
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    this.up();
    return [...this.volumes.values()].map((v) => ({
      name: v.name,
      labels: { ...v.labels },
      createdAt: '2026-01-01T00:00:00Z',
    }));
  }

  async listContainers(): Promise<ContainerInfo[]> {
    this.up();
    return [...this.containers.values()].map((c) => this.info(c));
  }

  async containerEnv(container: string, key: string): Promise<string | undefined> {
    const c = this.existing(container, `inspect container ${container}`);
    return c.env.find((e) => e.startsWith(`${key}=`))?.slice(key.length + 1);
  }

  async inspectContainer(name: string): Promise<(ContainerInfo & { env: string[] }) | undefined> {
    this.up();
    const c = this.containers.get(name);
    return c && { ...this.info(c), env: [...c.env] };
  }

  /** Scratch containers and volumes (label `drbot.scratch=<run id>`); the fake makes no anchors. */
  async listHelpers(): Promise<HelperObject[]> {
    this.up();
    const helper = (
      kind: 'container' | 'volume',
      name: string,
      labels: Record<string, string>,
    ): HelperObject => ({
      kind,
      ref: name,
      name,
      role: 'scratch',
      runId: labels['drbot.scratch'],
      volume: undefined,
      createdBy: undefined,
      inUse: false,
    });
    return [
      ...[...this.containers.values()]
        .filter((c) => 'drbot.scratch' in c.labels)
        .map((c) => helper('container', c.name, c.labels)),
      ...[...this.volumes.values()]
        .filter((v) => 'drbot.scratch' in v.labels)
        .map((v) => helper('volume', v.name, v.labels)),
    ];
  }

  // --- ContainerRuntime: exec ----------------------------------------------------------------

  async execStream(container: string, options: ExecOptions): Promise<ExecStream> {
    const c = this.existing(container, `exec in ${container}`);
    if (c.state !== 'running')
      throw externalError(
        ErrorCode.CONTAINER_NOT_RUNNING,
        `exec in ${container}: container ${c.id} is not running`,
      );
    this.ops.push(`exec ${container} ${options.cmd.join(' ')}`);
    const program = options.cmd[0] ?? '';
    const handler = this.execHandlers.get(`${container}\u0000${program}`);
    // A fault is about the program's work, not the `--version` probe that finds it.
    const probe = options.cmd.length === 2 && options.cmd[1] === '--version';
    const fault = probe ? undefined : this.takeFault(container, program);
    let run: (out: PassThrough) => Promise<ExecResult>;
    if (handler) {
      run = async (out) => {
        const { stdout, ...result } = handler(options.cmd);
        out.end(stdout ?? '');
        return result;
      };
    } else {
      try {
        const ctx = {
          name: container,
          env: c.env,
          db: c.db,
          now: this.now,
          onUnknown: (message: string) => this.unknown.push(`${container}: ${message}`),
        };
        const real = planExec(ctx, options);
        run = fault ? failing(real, fault, options) : real;
      } catch (err) {
        if (err instanceof UnknownCommand) this.unknown.push(err.message);
        throw err;
      }
    }
    const stdout = new PassThrough({ highWaterMark: 1 << 16 });
    // As with Docker, the exit is known only once the output has been read to its end.
    const done = run(stdout).then(async (result) => {
      await outputRead(stdout);
      return result;
    });
    done.catch(() => undefined);
    return { stdout, done };
  }

  async exec(container: string, options: ExecOptions): Promise<ExecResult & { stdout: string }> {
    const { stdout, done } = await this.execStream(container, options);
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    const result = await done;
    return { ...result, stdout: Buffer.concat(chunks).toString('utf8') };
  }

  // --- ContainerRuntime: volumes -------------------------------------------------------------

  async exportVolume(volume: string): Promise<{ stream: Readable; done: Promise<void> }> {
    const v = this.volume(volume);
    this.ops.push(`export ${volume}`);
    const body = await packVolume(v.entries);
    const stream = new PassThrough({ highWaterMark: 1 << 16 });
    const fault = this.exportFaults.get(volume);
    const hold = this.exportHolds.get(volume);
    const done = (async () => {
      if (fault) {
        stream.write(body.subarray(0, fault.afterBytes));
        await new Promise((r) => setTimeout(r, fault.delayMs));
        stream.destroy(fault.error);
        throw fault.error;
      }
      const held = hold ? Math.max(0, body.length - 1024) : body.length;
      if (!(await writeAll(stream, body.subarray(0, held)))) return;
      if (hold) await hold;
      await emit(stream, body.subarray(held), 'archive');
    })();
    done.catch(() => undefined);
    return { stream, done };
  }

  async importVolume(volume: string, tar: Readable): Promise<void> {
    const v = this.volume(volume);
    this.ops.push(`import ${volume}`);
    try {
      await unpackInto(tar, (path, entry) => v.entries.set(path, entry));
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw externalError(
        ErrorCode.ARCHIVE_FAILED,
        `cannot extract into volume ${volume} through the archive API: ${(err as Error).message}`,
        { cause: err, step: 'restore' },
      );
    }
  }

  async createVolume(
    name: string,
    labels: Record<string, string>,
    options: { driver?: string; driverOpts?: Record<string, string> } = {},
  ): Promise<void> {
    this.up();
    this.ops.push(`create-volume ${name}`);
    // Docker answers a create of an existing name with that volume, unchanged.
    if (this.volumes.has(name)) return;
    this.volumes.set(name, {
      name,
      labels: { ...labels },
      driver: options.driver ?? 'local',
      options: options.driverOpts ?? {},
      entries: new Map(),
    });
  }

  async removeVolume(name: string): Promise<void> {
    this.up();
    this.ops.push(`remove-volume ${name}`);
    if (!this.volumes.has(name)) return;
    const users = [...this.containers.values()].filter((c) => c.mounts.some((m) => m.volume === name));
    if (users.length)
      throw dockerFailed(
        `remove volume ${name}`,
        `volume is in use - [${users.map((c) => c.id).join(', ')}]`,
      );
    this.volumes.delete(name);
  }

  async runOnce(spec: {
    image: string;
    entrypoint: string[];
    mounts: Array<{ volume: string; target: string }>;
    labels: Record<string, string>;
  }): Promise<ExecResult & { stdout: string }> {
    this.up();
    this.ops.push(`run-once ${spec.image} ${spec.entrypoint.join(' ')}`);
    if (!this.images.has(spec.image))
      throw dockerFailed(`create helper container from ${spec.image}`, `No such image: ${spec.image}`);
    const [program, ...args] = spec.entrypoint;
    if (program !== 'rm' || args[0] !== '-rf' || args[1] !== '--') {
      const message = `fake runtime: unknown one-off command: ${spec.entrypoint.join(' ')}`;
      this.unknown.push(message);
      throw new UnknownCommand(message);
    }
    for (const path of args.slice(2)) {
      const mount = spec.mounts.find((m) => path.startsWith(`${m.target}/`));
      if (!mount)
        return { exitCode: 1, stderrTail: `rm: cannot remove '${path}': outside every mount\n`, stdout: '' };
      const rel = path.slice(mount.target.length + 1);
      const entries = this.volume(mount.volume).entries;
      for (const key of [...entries.keys()])
        if (key === rel || key.startsWith(`${rel}/`)) entries.delete(key);
    }
    return { exitCode: 0, stderrTail: '', stdout: '' };
  }

  // --- ContainerRuntime: containers ------------------------------------------------------------

  async startContainer(name: string): Promise<void> {
    const c = this.existing(name, `start container ${name}`);
    this.ops.push(`start ${name}`);
    if (c.state === 'running') return;
    this.start(c, `start container ${name}`);
  }

  async stopContainer(name: string, _timeoutSeconds: number): Promise<void> {
    const c = this.existing(name, `stop container ${name}`);
    this.ops.push(`stop ${name}`);
    if (c.state === 'running') c.state = 'exited';
  }

  async runScratchContainer(spec: ScratchContainerSpec): Promise<void> {
    this.up();
    this.ops.push(`scratch ${spec.name} ${spec.image}`);
    const image = this.images.get(spec.image);
    if (!image) throw dockerFailed(`create scratch container ${spec.name}`, `No such image: ${spec.image}`);
    if (this.containers.has(spec.name))
      throw dockerFailed(
        `create scratch container ${spec.name}`,
        `Conflict. The container name "/${spec.name}" is already in use`,
      );
    const c = this.addContainer({
      name: spec.name,
      image: spec.image,
      env: [...spec.env],
      labels: { ...spec.labels },
    });
    c.state = 'created';
    if (image.engine)
      c.db = this.newDatabase(
        image.engine,
        image.version ?? DEFAULTS[image.engine].version,
        image.readyAfterPings ?? 0,
      );
    this.start(c, `start scratch container ${spec.name}`);
  }

  async removeContainer(name: string): Promise<void> {
    this.up();
    this.ops.push(`remove-container ${name}`);
    const c = this.containers.get(name);
    if (!c) return;
    this.containers.delete(name);
    this.removed.push(c);
  }

  // --- ContainerRuntime: host specs ------------------------------------------------------------

  async containerSpec(name: string, secretNames?: ReadonlySet<string>): Promise<ContainerSpec | undefined> {
    this.up();
    const c = this.containers.get(name);
    if (!c) return undefined;
    return {
      name: c.name,
      image: c.image,
      imageId: `sha256:${Buffer.from(c.image).toString('hex').padEnd(64, '0').slice(0, 64)}`,
      env: recordEnv(c.env, secretNames),
      mounts: c.mounts.map((m) => ({
        type: 'volume',
        source: m.volume,
        destination: m.destination,
        readOnly: false,
      })),
      ports: [],
      networkMode: c.networks[0] ?? 'bridge',
      networks: c.networks.map((n) => ({ name: n, aliases: [] })),
      restartPolicy: { name: 'unless-stopped', maximumRetryCount: 0 },
      labels: { ...c.labels },
      links: [],
    };
  }

  async networkSpec(name: string): Promise<NetworkSpec | undefined> {
    this.up();
    return this.networks.get(name);
  }

  async volumeSpec(name: string): Promise<VolumeSpec | undefined> {
    this.up();
    const v = this.volumes.get(name);
    return v && { name: v.name, driver: v.driver, labels: { ...v.labels }, options: { ...v.options } };
  }

  async listNetworks(): Promise<string[]> {
    this.up();
    return [...BUILTIN_NETWORKS, ...this.networks.keys()].sort();
  }

  async imagePresent(ref: string): Promise<boolean> {
    this.up();
    return this.images.has(ref);
  }

  async pullImage(ref: string): Promise<void> {
    this.up();
    this.ops.push(`pull ${ref}`);
    if (!this.images.has(ref)) this.images.set(ref, {});
  }

  async createNetwork(spec: NetworkSpec): Promise<void> {
    this.up();
    this.ops.push(`create-network ${spec.name}`);
    if (!this.networks.has(spec.name)) this.networks.set(spec.name, { ...spec });
  }

  async createContainer(spec: ContainerSpec, env: string[]): Promise<void> {
    this.up();
    this.ops.push(`create-container ${spec.name}`);
    const what = `create container ${spec.name} from ${spec.image}`;
    const image = this.images.get(spec.image);
    if (!image) throw dockerFailed(what, `No such image: ${spec.image}`);
    if (this.containers.has(spec.name))
      throw dockerFailed(what, `Conflict. The container name "/${spec.name}" is already in use`);
    for (const n of spec.networks)
      if (!BUILTIN_NETWORKS.has(n.name) && !this.networks.has(n.name))
        throw dockerFailed(what, `network ${n.name} not found`);
    const mounts: Record<string, string> = {};
    for (const m of spec.mounts) {
      if (m.type !== 'volume') continue;
      // The engine makes a named volume that is not there yet, unlabelled.
      if (!this.volumes.has(m.source)) this.addVolume(m.source);
      mounts[m.source] = m.destination;
    }
    const c = this.addContainer({
      name: spec.name,
      image: spec.image,
      env: [...env],
      labels: { ...spec.labels },
      mounts,
      networks: spec.networks.map((n) => n.name),
    });
    c.state = 'created';
    if (image.engine)
      c.db = this.newDatabase(
        image.engine,
        image.version ?? DEFAULTS[image.engine].version,
        image.readyAfterPings ?? 0,
      );
  }

  // --- inside ----------------------------------------------------------------------------------

  private newId(): string {
    return (++this.ids).toString(16).padStart(12, '0');
  }

  private newDatabase(engine: FakeEngine, version: string, readyAfterPings: number): FakeDatabase {
    const data: FakeData = new Map();
    return {
      engine,
      version,
      user: DEFAULTS[engine].user,
      data,
      readyAfterPings,
      pingsLeft: readyAfterPings,
    };
  }

  private info(c: FakeContainer): ContainerInfo {
    return {
      id: c.id,
      name: c.name,
      image: c.image,
      running: c.state === 'running',
      state: c.state,
      labels: { ...c.labels },
      mounts: c.mounts.map((m) => ({ volume: m.volume, destination: m.destination })),
    };
  }

  private start(c: FakeContainer, what: string): void {
    const fault = this.startFaults.find((f) =>
      typeof f.match === 'string' ? f.match === c.name : f.match.test(c.name),
    );
    if (fault) throw dockerFailed(what, fault.reason);
    c.state = 'running';
    if (c.db) c.db.pingsLeft = c.db.readyAfterPings;
  }

  private up(): void {
    if (this.down)
      throw externalError(ErrorCode.DOCKER_UNREACHABLE, `Docker engine (fake) does not answer: ${this.down}`);
  }

  private existing(name: string, what: string): FakeContainer {
    this.up();
    const c = this.containers.get(name);
    if (!c) throw dockerFailed(what, `No such container: ${name}`);
    return c;
  }

  private volume(name: string): FakeVolume {
    this.up();
    const v = this.volumes.get(name);
    // Docker would quietly create an empty volume here; the engine must never rely on that.
    if (!v) throw externalError(ErrorCode.ARCHIVE_FAILED, `fake runtime: no volume ${name}`, { asset: name });
    return v;
  }

  private takeFault(container: string, program: string): ExecFault | undefined {
    const i = this.execFaults.findIndex((f) => f.container === container && f.program === program);
    if (i < 0) return undefined;
    const entry = this.execFaults[i] as { fault: ExecFault };
    if (entry.fault.times !== undefined && --entry.fault.times <= 0) this.execFaults.splice(i, 1);
    return entry.fault;
  }
}
