// The Docker adapter of the container-runtime port, over the engine API (dockerode).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Duplex, PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import type { ContainerSpec, NetworkSpec, VolumeSpec } from '../../domain/host-spec.js';
import { SCRATCH_LABEL } from '../../engine/runs/scratch.js';
import { AppError, ErrorCode, externalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type {
  ContainerInfo,
  ContainerRuntime,
  ExecOptions,
  ExecResult,
  ExecStream,
  HelperObject,
  ScratchContainerSpec,
  VolumeInfo,
} from '../../ports/container-runtime.js';
import { DockerDemux } from './demux.js';
import {
  containerCreatePlan,
  containerSpecFromInspect,
  networkSpecFromInspect,
  volumeSpecFromInspect,
} from './host-spec-mapping.js';

/**
 * An image with no files at all, imported from an empty tar. Containers made from it are never
 * started: they only anchor a volume mount so the engine's archive API can read or write the
 * volume. So drbot needs no `alpine` or any other pulled image.
 */
export const ANCHOR_IMAGE = 'drbot/volume-anchor:1';
const ANCHOR_LABEL = 'drbot.anchor';
/**
 * The engine reports creation times in whole seconds, from its own clock (the host's, for a
 * local engine): a second for the rounding and one for the clocks.
 */
const CREATED_ALLOWANCE_MS = 2_000;

/**
 * Turns a `DOCKER_HOST`-style address into dockerode options. A TCP engine is reached over TLS
 * the way the docker CLI reaches it: when DOCKER_TLS_VERIFY is set (to anything but the empty
 * string, as for the CLI), the address is https://, or the port is 2376 (the TLS port), with
 * ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH (default ~/.docker). The engine's
 * certificate is always verified: database passwords travel in exec environments, so an engine
 * that merely answers on the address is not trusted.
 */
export function dockerOptions(host: string, env: NodeJS.ProcessEnv = process.env): Docker.DockerOptions {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  const tls = url.protocol === 'https:' || Boolean(env.DOCKER_TLS_VERIFY) || url.port === '2376';
  if (!tls) return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
  // Certificates named by DOCKER_CERT_PATH must be there; the default directory may hold none
  // (then the system's CAs verify the engine and no client certificate is sent).
  const dir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  const read = (file: string): Buffer | undefined => {
    try {
      return readFileSync(join(dir, file));
    } catch (err) {
      if (!env.DOCKER_CERT_PATH && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw externalError(
        ErrorCode.DOCKER_UNREACHABLE,
        `Docker engine at ${host} needs TLS, but ${join(dir, file)} cannot be read: ${(err as Error).message} (DOCKER_CERT_PATH names the directory with ca.pem, cert.pem and key.pem)`,
        { cause: err },
      );
    }
  };
  const ca = read('ca.pem');
  const cert = read('cert.pem');
  const key = read('key.pem');
  return {
    host: url.hostname,
    port: Number(url.port || 2376),
    protocol: 'https',
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
  };
}

export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;
  private anchorReady: Promise<void> | undefined;
  /** Ids of the anchors this process made and has not removed yet (in use by an archive). */
  private readonly anchorsInUse = new Set<string>();

  constructor(
    private readonly host: string,
    private readonly log: Logger,
  ) {
    this.docker = new Docker(dockerOptions(host));
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw externalError(
        ErrorCode.DOCKER_UNREACHABLE,
        `Docker engine at ${this.host} does not answer: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    const res = await this.call('list volumes', () => this.docker.listVolumes());
    return (res.Volumes ?? []).map((v) => ({
      name: v.Name,
      labels: v.Labels ?? {},
      createdAt: (v as { CreatedAt?: string }).CreatedAt,
    }));
  }

  async listContainers(): Promise<ContainerInfo[]> {
    const list = await this.call('list containers', () => this.docker.listContainers({ all: true }));
    return list
      .filter((c) => c.Labels?.[ANCHOR_LABEL] === undefined)
      .map((c) => ({
        id: c.Id,
        name: (c.Names?.[0] ?? c.Id).replace(/^\//, ''),
        image: c.Image,
        running: c.State === 'running',
        state: c.State,
        labels: c.Labels ?? {},
        mounts: (c.Mounts ?? []).map((m) => ({
          volume: m.Type === 'volume' ? m.Name : undefined,
          destination: m.Destination,
        })),
      }));
  }

  async containerEnv(container: string, key: string): Promise<string | undefined> {
    const info = await this.call(`inspect container ${container}`, () =>
      this.docker.getContainer(container).inspect(),
    );
    const prefix = `${key}=`;
    const entry = (info.Config.Env ?? []).find((e) => e.startsWith(prefix));
    return entry?.slice(prefix.length);
  }

  async execStream(container: string, options: ExecOptions): Promise<ExecStream> {
    const c = this.docker.getContainer(container);
    const exec = await this.call(`exec in ${container}`, () =>
      c.exec({
        Cmd: options.cmd,
        Env: options.env ?? [],
        AttachStdin: options.stdin !== undefined,
        AttachStdout: true,
        AttachStderr: true,
        ...(options.user ? { User: options.user } : {}),
      }),
    );
    const raw = (await this.call(`start exec in ${container}`, () =>
      exec.start({ hijack: true, stdin: options.stdin !== undefined }),
    )) as Duplex;
    const demux = new DockerDemux();
    const stdout = new PassThrough({ highWaterMark: 1 << 20 });
    let inputError: Error | undefined;
    if (options.stdin) {
      const input = options.stdin;
      // Ending our side half-closes the connection: the process sees EOF on stdin and its
      // output keeps coming until it exits.
      input.once('error', (err: Error) => {
        inputError = err;
        raw.destroy(err);
      });
      input.pipe(raw);
    }
    // The raw socket → demux → stdout chain keeps backpressure end to end.
    const flowing = pipeline(raw, demux, stdout);
    const done = flowing.then(
      async (): Promise<ExecResult> => {
        if (inputError) throw inputError;
        // The stream can end a moment before the engine records the exit code.
        for (let i = 0; i < 200; i++) {
          const info = await exec.inspect();
          if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) {
            return { exitCode: info.ExitCode, stderrTail: demux.stderrTail };
          }
          await new Promise((r) => setTimeout(r, 25));
        }
        throw externalError(
          ErrorCode.DOCKER_FAILED,
          `exec in ${container} did not report an exit code (did the container stop?)`,
          {
            stderrTail: demux.stderrTail,
          },
        );
      },
      (err: Error) => {
        throw inputError ?? err;
      },
    );
    // A consumer that fails destroys stdout; make the caller's error the one that counts.
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

  async exportVolume(volume: string): Promise<{ stream: Readable; done: Promise<void> }> {
    const anchor = await this.createAnchor(volume, '/volume');
    const remove = () => this.removeAnchor(anchor, volume);
    try {
      const archive = (await anchor.getArchive({ path: '/volume/.' })) as unknown as Readable;
      const done = new Promise<void>((resolve, reject) => {
        archive.once('end', resolve);
        archive.once('error', reject);
        archive.once('close', () => resolve());
      }).finally(remove);
      return { stream: archive, done };
    } catch (err) {
      await remove();
      throw externalError(
        ErrorCode.ARCHIVE_FAILED,
        `cannot read volume ${volume} through the archive API: ${(err as Error).message}`,
        { cause: err, asset: volume, step: 'archive' },
      );
    }
  }

  async importVolume(volume: string, tar: Readable): Promise<void> {
    const anchor = await this.createAnchor(volume, '/volume');
    try {
      await anchor.putArchive(tar as unknown as NodeJS.ReadableStream, { path: '/volume' });
    } catch (err) {
      throw externalError(
        ErrorCode.ARCHIVE_FAILED,
        `cannot extract into volume ${volume} through the archive API: ${(err as Error).message}`,
        {
          cause: err,
          step: 'restore',
        },
      );
    } finally {
      await this.removeAnchor(anchor, volume);
    }
  }

  async createVolume(
    name: string,
    labels: Record<string, string>,
    options: { driver?: string; driverOpts?: Record<string, string> } = {},
  ): Promise<void> {
    await this.call(`create volume ${name}`, () =>
      this.docker.createVolume({
        Name: name,
        Labels: labels,
        ...(options.driver ? { Driver: options.driver } : {}),
        ...(options.driverOpts ? { DriverOpts: options.driverOpts } : {}),
      }),
    );
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(name).remove();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      await this.call(`remove volume ${name}`, () => Promise.reject(err));
    }
  }

  async inspectContainer(name: string): Promise<(ContainerInfo & { env: string[] }) | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(name).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      return this.call(`inspect container ${name}`, () => Promise.reject(err));
    }
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config.Image,
      running: info.State.Running,
      state: info.State.Status,
      labels: info.Config.Labels ?? {},
      mounts: (info.Mounts ?? []).map((m) => ({
        volume: m.Type === 'volume' ? m.Name : undefined,
        destination: m.Destination,
      })),
      env: info.Config.Env ?? [],
    };
  }

  async startContainer(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).start();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 304) return; // already running
      await this.call(`start container ${name}`, () => Promise.reject(err));
    }
  }

  async stopContainer(name: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(name).stop({ t: timeoutSeconds });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 304) return; // already stopped
      await this.call(`stop container ${name}`, () => Promise.reject(err));
    }
  }

  async runScratchContainer(spec: ScratchContainerSpec): Promise<void> {
    const c = await this.call(`create scratch container ${spec.name}`, () =>
      this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Env: spec.env,
        Labels: spec.labels,
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        HostConfig: {
          NetworkMode: 'none',
          // Scratch runs on the production host: capped so a deep verify cannot starve it.
          ...(spec.limits?.nanoCpus ? { NanoCpus: spec.limits.nanoCpus } : {}),
          ...(spec.limits?.memoryBytes ? { Memory: spec.limits.memoryBytes } : {}),
        },
      }),
    );
    await this.call(`start scratch container ${spec.name}`, () => c.start());
  }

  async removeContainer(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).remove({ force: true, v: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      await this.call(`remove container ${name}`, () => Promise.reject(err));
    }
  }

  async runOnce(spec: {
    image: string;
    entrypoint: string[];
    mounts: Array<{ volume: string; target: string }>;
    labels: Record<string, string>;
  }): Promise<ExecResult & { stdout: string }> {
    const c = await this.call(`create helper container from ${spec.image}`, () =>
      this.docker.createContainer({
        Image: spec.image,
        Entrypoint: spec.entrypoint,
        Cmd: [],
        Labels: spec.labels,
        User: '0',
        NetworkDisabled: true,
        HostConfig: {
          Mounts: spec.mounts.map((m) => ({ Type: 'volume' as const, Source: m.volume, Target: m.target })),
        },
      }),
    );
    try {
      await this.call(`start helper container from ${spec.image}`, () => c.start());
      const res = (await c.wait()) as { StatusCode: number };
      const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      const demux = new DockerDemux();
      const out: Buffer[] = [];
      demux.on('data', (b: Buffer) => out.push(b));
      demux.end(logs);
      await new Promise((r) => demux.once('end', r));
      return {
        exitCode: res.StatusCode,
        stderrTail: demux.stderrTail,
        stdout: Buffer.concat(out).toString('utf8'),
      };
    } finally {
      await c.remove({ force: true, v: true }).catch(() => undefined);
    }
  }

  async listHelpers(): Promise<HelperObject[]> {
    // Label filters with several values must all match, hence one listing per label.
    const [scratch, anchors, volumes] = await Promise.all([
      this.call('list containers', () =>
        this.docker.listContainers({ all: true, filters: { label: [SCRATCH_LABEL] } }),
      ),
      this.call('list containers', () =>
        this.docker.listContainers({ all: true, filters: { label: [ANCHOR_LABEL] } }),
      ),
      this.call('list volumes', () => this.docker.listVolumes({ filters: { label: [SCRATCH_LABEL] } })),
    ]);
    const container = (c: Docker.ContainerInfo): HelperObject => {
      const anchor = c.Labels?.[ANCHOR_LABEL];
      return {
        kind: 'container',
        ref: c.Id,
        name: (c.Names?.[0] ?? c.Id).replace(/^\//, ''),
        role: anchor === undefined ? 'scratch' : 'anchor',
        runId: c.Labels?.[SCRATCH_LABEL],
        volume: anchor,
        createdBy: c.Created ? new Date(c.Created * 1000 + CREATED_ALLOWANCE_MS) : undefined,
        inUse: this.anchorsInUse.has(c.Id),
      };
    };
    return [
      ...scratch.map(container),
      ...anchors.filter((a) => !scratch.some((s) => s.Id === a.Id)).map(container),
      ...(volumes.Volumes ?? []).map((v): HelperObject => {
        const created = Date.parse((v as { CreatedAt?: string }).CreatedAt ?? '');
        return {
          kind: 'volume',
          ref: v.Name,
          name: v.Name,
          role: 'scratch',
          runId: v.Labels?.[SCRATCH_LABEL],
          volume: undefined,
          createdBy: Number.isNaN(created) ? undefined : new Date(created + CREATED_ALLOWANCE_MS),
          inUse: false,
        };
      }),
    ];
  }

  async containerSpec(name: string, secretNames?: ReadonlySet<string>): Promise<ContainerSpec | undefined> {
    const info = await this.unlessMissing(`inspect container ${name}`, () =>
      this.docker.getContainer(name).inspect(),
    );
    if (!info) return undefined;
    const spec = containerSpecFromInspect(info, secretNames);
    // The engine reports `container:<id>`; an id means nothing on another host, the name does.
    if (spec.networkMode.startsWith('container:')) {
      const ref = spec.networkMode.slice('container:'.length);
      const other = await this.unlessMissing(`inspect container ${ref}`, () =>
        this.docker.getContainer(ref).inspect(),
      );
      if (other) spec.networkMode = `container:${other.Name.replace(/^\//, '')}`;
    }
    return spec;
  }

  async networkSpec(name: string): Promise<NetworkSpec | undefined> {
    const info = await this.unlessMissing(
      `inspect network ${name}`,
      () => this.docker.getNetwork(name).inspect() as Promise<Docker.NetworkInspectInfo>,
    );
    return info && networkSpecFromInspect(info);
  }

  async volumeSpec(name: string): Promise<VolumeSpec | undefined> {
    const info = await this.unlessMissing(`inspect volume ${name}`, () =>
      this.docker.getVolume(name).inspect(),
    );
    return info && volumeSpecFromInspect(info);
  }

  async listNetworks(): Promise<string[]> {
    const list = await this.call('list networks', () => this.docker.listNetworks());
    return list.map((n) => n.Name).sort();
  }

  async imagePresent(ref: string): Promise<boolean> {
    const info = await this.unlessMissing(`inspect image ${ref}`, () => this.docker.getImage(ref).inspect());
    return info !== undefined;
  }

  async pullImage(ref: string): Promise<void> {
    const what = `pull image ${ref}`;
    const stream = await this.call(what, () => this.docker.pull(ref) as Promise<Readable>);
    // The engine answers 200 and then reports a failed pull inside the progress stream.
    await this.call(
      what,
      () =>
        new Promise<void>((resolve, reject) => {
          this.docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string }>) => {
            const failed = output.find((o) => o.error);
            if (err) reject(err);
            else if (failed) reject(new Error(failed.error));
            else resolve();
          });
        }),
    );
  }

  async createNetwork(spec: NetworkSpec): Promise<void> {
    try {
      await this.docker.createNetwork({
        Name: spec.name,
        Driver: spec.driver,
        // Older engines make a second network of the same name unless told to check.
        CheckDuplicate: true,
        Internal: spec.internal,
        Attachable: spec.attachable,
        EnableIPv6: spec.enableIPv6,
        Options: spec.options,
        Labels: spec.labels,
        ...(spec.ipam.length
          ? {
              IPAM: {
                Config: spec.ipam.map((c) => ({
                  ...(c.subnet ? { Subnet: c.subnet } : {}),
                  ...(c.gateway ? { Gateway: c.gateway } : {}),
                  ...(c.ipRange ? { IPRange: c.ipRange } : {}),
                })),
              },
            }
          : {}),
      });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 409) {
        this.log.info({ network: spec.name }, 'network already there; left as it is');
        return;
      }
      await this.call(`create network ${spec.name}`, () => Promise.reject(err));
    }
  }

  async createContainer(spec: ContainerSpec, env: string[]): Promise<void> {
    const { options, connect } = containerCreatePlan(spec, env);
    const c = await this.call(`create container ${spec.name} from ${spec.image}`, () =>
      this.docker.createContainer(options),
    );
    try {
      for (const { network, endpoint } of connect) {
        await this.call(`connect container ${spec.name} to network ${network}`, () =>
          this.docker.getNetwork(network).connect({ Container: c.id, EndpointConfig: endpoint }),
        );
      }
    } catch (err) {
      // A half-connected container would start on the wrong networks; without it a retry
      // can create it again instead of tripping over the name.
      await c
        .remove({ force: true })
        .catch((e: Error) =>
          this.log.warn({ container: spec.name, err: e.message }, 'container not removed'),
        );
      throw err;
    }
  }

  /** `fn`'s answer, or undefined when the engine says the object does not exist (404). */
  private async unlessMissing<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      return this.call(what, () => Promise.reject(err));
    }
  }

  /** A never-started container from the empty anchor image with `volume` mounted at `path`. */
  private async createAnchor(volume: string, path: string): Promise<Docker.Container> {
    await this.ensureAnchorImage();
    const anchor = await this.call(`create anchor for volume ${volume}`, () =>
      this.docker.createContainer({
        Image: ANCHOR_IMAGE,
        Cmd: ['none'],
        Labels: { [ANCHOR_LABEL]: volume },
        HostConfig: { Mounts: [{ Type: 'volume', Source: volume, Target: path, ReadOnly: false }] },
        NetworkDisabled: true,
      }),
    );
    this.anchorsInUse.add(anchor.id);
    return anchor;
  }

  /** Removes an anchor once its archive is done (one left behind pins its volume). */
  private async removeAnchor(anchor: Docker.Container, volume: string): Promise<void> {
    await anchor
      .remove({ force: true })
      .catch((err: Error) => this.log.warn({ volume, err: err.message }, 'anchor container not removed'));
    this.anchorsInUse.delete(anchor.id);
  }

  private ensureAnchorImage(): Promise<void> {
    this.anchorReady ??= (async () => {
      try {
        await this.docker.getImage(ANCHOR_IMAGE).inspect();
        return;
      } catch {
        // not there yet: import it
      }
      const [repo, tag] = ANCHOR_IMAGE.split(':') as [string, string];
      // An empty tar archive is 1024 zero bytes (two end-of-archive blocks).
      const emptyTar = new PassThrough();
      emptyTar.end(Buffer.alloc(1024));
      const res = (await this.docker.importImage(emptyTar as unknown as string, { repo, tag })) as Readable;
      await pipeline(res, new PassThrough().resume());
      await this.docker.getImage(ANCHOR_IMAGE).inspect();
    })().catch((err) => {
      this.anchorReady = undefined;
      throw externalError(
        ErrorCode.DOCKER_FAILED,
        `cannot create the ${ANCHOR_IMAGE} image: ${(err as Error).message}`,
        { cause: err },
      );
    });
    return this.anchorReady;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError) throw err;
      const e = err as { statusCode?: number; code?: string; message: string; json?: { message?: string } };
      if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'EACCES') {
        throw externalError(
          ErrorCode.DOCKER_UNREACHABLE,
          `Docker engine at ${this.host} is unreachable (${e.code}) while trying to ${what}`,
          { cause: err },
        );
      }
      if (e.statusCode === 409 && /is not running/.test(e.json?.message ?? e.message)) {
        throw externalError(ErrorCode.CONTAINER_NOT_RUNNING, `${what}: ${e.json?.message ?? e.message}`, {
          cause: err,
        });
      }
      throw externalError(ErrorCode.DOCKER_FAILED, `${what} failed: ${e.json?.message ?? e.message}`, {
        cause: err,
      });
    }
  }
}
