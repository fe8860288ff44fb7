// What a backup set records of the host so a bare host can be rebuilt: containers, networks, volumes.

/** An environment variable of a recorded container; secret values are never recorded. */
export interface EnvEntry {
  name: string;
  /** Absent when the variable is secret: the restore takes it from drbot's env or `--env-file`. */
  value?: string;
  secret: boolean;
}

export interface MountSpec {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name or host path (empty for tmpfs). */
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface PortBinding {
  /** `80/tcp` */
  containerPort: string;
  hostIp: string;
  hostPort: string;
}

export interface NetworkAttachment {
  name: string;
  aliases: string[];
  /** A static address given by the user (`--ip`), if any. */
  ipv4Address?: string;
}

export interface HealthcheckSpec {
  test: string[];
  /** Nanoseconds, as the engine takes them. */
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

/** A container as the engine reports it, enough to create it again. */
export interface ContainerSpec {
  name: string;
  /** The image reference the container was created from (`mariadb:11`). */
  image: string;
  /** The image's id (`sha256:…`), to tell a different build under the same tag. */
  imageId: string;
  entrypoint?: string[];
  cmd?: string[];
  env: EnvEntry[];
  mounts: MountSpec[];
  ports: PortBinding[];
  /** `bridge`, `host`, `none`, a user network's name, or `container:<name>`. */
  networkMode: string;
  networks: NetworkAttachment[];
  restartPolicy: { name: string; maximumRetryCount: number };
  labels: Record<string, string>;
  healthcheck?: HealthcheckSpec;
  user?: string;
  workingDir?: string;
  hostname?: string;
  /** Legacy links (`other:alias`), which make a creation order. */
  links: string[];
}

export interface NetworkSpec {
  name: string;
  driver: string;
  ipam: Array<{ subnet?: string; gateway?: string; ipRange?: string }>;
  options: Record<string, string>;
  labels: Record<string, string>;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
}

export interface VolumeSpec {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

export const HOST_SPEC_FORMAT = 'drbot.host/v1';
export const HOST_SPEC_FILE = 'host.json';

/** `host.json` in every backup set (DESIGN §9): what a bare-host restore re-creates. */
export interface HostSpec {
  format: typeof HOST_SPEC_FORMAT;
  capturedAt: string;
  containers: ContainerSpec[];
  networks: NetworkSpec[];
  volumes: VolumeSpec[];
}

/** Names that hold secrets by convention; their values are never written anywhere. */
const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE/i;

/**
 * Whether an environment variable is secret: it matches the usual words, or the config names
 * it as a database's `passwordEnv`.
 */
export function isSecretEnv(name: string, configured: ReadonlySet<string> = new Set()): boolean {
  return configured.has(name) || SECRET_NAME.test(name);
}

/** `KEY=value` entries as recorded: secret values dropped, their names kept. */
export function recordEnv(env: string[], configured: ReadonlySet<string> = new Set()): EnvEntry[] {
  return env.map((e) => {
    const eq = e.indexOf('=');
    const name = eq < 0 ? e : e.slice(0, eq);
    if (isSecretEnv(name, configured)) return { name, secret: true };
    return { name, value: eq < 0 ? '' : e.slice(eq + 1), secret: false };
  });
}

/** Networks the engine creates itself, never recorded or re-created. */
export const BUILTIN_NETWORKS: ReadonlySet<string> = new Set(['bridge', 'host', 'none']);

/**
 * The `KEY=value` list to create a recorded container with: recorded values as they are, secret
 * ones from `secretValue` (drbot's env or `--env-file`). `missing` names the secrets without a
 * value, so a restore can stop before it creates anything rather than start a half-configured
 * container.
 */
export function envList(
  entries: readonly EnvEntry[],
  secretValue: (name: string) => string | undefined,
): { env: string[]; missing: string[] } {
  const env: string[] = [];
  const missing: string[] = [];
  for (const e of entries) {
    const value = e.secret ? secretValue(e.name) : (e.value ?? '');
    if (value === undefined) missing.push(e.name);
    else env.push(`${e.name}=${value}`);
  }
  return { env, missing };
}
