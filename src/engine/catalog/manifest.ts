// manifest.json and SHA256SUMS: what every set says about itself, on every target.
import { hostname } from 'node:os';
import { z } from 'zod';
import { HOST_SPEC_FORMAT, type HostSpec } from '../../domain/host-spec.js';
import { setDirectory } from '../../domain/layout.js';
import type { BackupTarget } from '../../ports/backup-target.js';
import type { ArtifactMeta, ArtifactRecord, SetPurpose, SetRecord } from '../../ports/state-store.js';

export const MANIFEST_FILE = 'manifest.json';
export const SUMS_FILE = 'SHA256SUMS';
export const MANIFEST_FORMAT = 'drbot.manifest/v1';

/** What `manifest.json` holds (DESIGN §2, contract). No secrets: only names, sizes, hashes, times. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  setId: string;
  runId: string;
  host: string;
  createdAt: string;
  completedAt: string | null;
  /** `backup` (a restore point) or `safety` (what a restore replaced); older sets: backup. */
  purpose?: SetPurpose;
  artifacts: Array<{
    asset: string;
    kind: ArtifactRecord['kind'];
    file: string;
    size: number;
    rawSize: number | null;
    sha256: string;
    compression: string;
    engineVersion: string | null;
    startedAt: string;
    endedAt: string | null;
    /** What a restore needs to re-create the asset (labels, container, engine, user); no secrets. */
    meta?: ArtifactMeta;
    /**
     * Present when the stored file is age-encrypted (`*.gz.age`): `sha256` and `size` above are
     * the stored (encrypted) file's, as in SHA256SUMS; these are the plaintext (.gz) inside.
     */
    encryption?: ArtifactEncryption;
  }>;
  /**
   * The containers, networks and volumes a bare-host restore re-creates (DESIGN §9); secret
   * env values are never in it, only their names.
   */
  hostSpec?: HostSpec;
  /** drbot's own state, snapshotted with this set (outside the set's directory). */
  state?: StateSnapshotRef;
  /** Artifacts removed by retention since the set was written. */
  pruned: Array<{ asset: string; file: string; prunedAt: string }>;
}

/** Where a set's snapshot of drbot's state is stored on every target, and its hash. */
export interface StateSnapshotRef {
  /** Relative to the target's root or prefix: `drbot-state/<set-id>.sqlite.gz`. */
  key: string;
  size: number;
  sha256: string;
}

/** How an artifact is encrypted, and what its plaintext is (public keys and hashes only). */
export interface ArtifactEncryption {
  format: 'age';
  /** The age public keys it was encrypted to: any one of their identities decrypts it. */
  recipients: string[];
  /** sha256 and size of the .gz inside (`age -d -i KEY FILE | sha256sum`). */
  plaintextSha256: string;
  plaintextSize: number;
}

/** What a backup set records besides its artifacts. */
export interface SetDescription {
  hostSpec?: HostSpec;
  state?: StateSnapshotRef;
  /** Per encrypted artifact file: its plaintext's hash and size, and the recipients. */
  plaintexts?: Record<string, { sha256: string; size: number; recipients: string[] }>;
}

export function buildManifest(
  set: SetRecord,
  completedAt: Date | undefined,
  description: SetDescription = {},
): Manifest {
  const live = set.artifacts.filter((a) => a.status === 'complete');
  return {
    format: MANIFEST_FORMAT,
    id: set.id,
    setId: set.id,
    runId: set.runId,
    host: hostname(),
    createdAt: set.createdAt.toISOString(),
    completedAt: completedAt?.toISOString() ?? null,
    purpose: set.purpose,
    artifacts: live.map((a) => ({
      asset: a.asset,
      kind: a.kind,
      file: a.file,
      size: a.size ?? 0,
      rawSize: a.rawSize ?? null,
      sha256: a.sha256 ?? '',
      compression: a.compression,
      engineVersion: a.engineVersion ?? null,
      startedAt: a.startedAt.toISOString(),
      endedAt: a.endedAt?.toISOString() ?? null,
      meta: a.meta,
      ...encryptionOf(a.file, description.plaintexts),
    })),
    ...(description.hostSpec ? { hostSpec: description.hostSpec } : {}),
    ...(description.state ? { state: description.state } : {}),
    pruned: set.artifacts
      .filter((a) => a.status === 'pruned')
      .map((a) => ({ asset: a.asset, file: a.file, prunedAt: (a.prunedAt ?? new Date(0)).toISOString() })),
  };
}

function encryptionOf(
  file: string,
  plaintexts: SetDescription['plaintexts'],
): { encryption?: ArtifactEncryption } {
  const p = plaintexts?.[file];
  if (!p) return {};
  return {
    encryption: { format: 'age', recipients: p.recipients, plaintextSha256: p.sha256, plaintextSize: p.size },
  };
}

/** `sha256sum -c` format: `<hex>  <file>`, run inside the set's directory. */
export function buildSums(manifest: Manifest): string {
  return manifest.artifacts.map((a) => `${a.sha256}  ${a.file}\n`).join('');
}

/** `sha256sum` lines back into file → hash. */
export function parseSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) out.set(m[2] as string, m[1] as string);
  }
  return out;
}

/**
 * Writes SHA256SUMS, then manifest.json — the manifest last, as the mark of a finished set. A
 * manifest rewritten later (retention removed an artifact) keeps what the one before it said
 * about each encrypted artifact's plaintext: the catalog does not hold that, the manifest does.
 */
export async function writeManifest(target: BackupTarget, set: SetRecord, manifest: Manifest): Promise<void> {
  const dir = setDirectory(set.id, set.createdAt);
  const lacking = manifest.artifacts.some((a) => a.file.endsWith('.age') && !a.encryption);
  const prior = lacking ? await readManifest(target, dir).catch(() => undefined) : undefined;
  const known = new Map((prior?.artifacts ?? []).map((a) => [a.file, a.encryption]));
  const out: Manifest = prior
    ? {
        ...manifest,
        artifacts: manifest.artifacts.map((a) => {
          const encryption = a.encryption ?? known.get(a.file);
          return encryption ? { ...a, encryption } : a;
        }),
      }
    : manifest;
  await target.put(`${dir}/${SUMS_FILE}`, buildSums(out));
  await target.put(`${dir}/${MANIFEST_FILE}`, `${JSON.stringify(out, null, 2)}\n`);
}

const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  setId: z.string(),
  runId: z.string(),
  host: z.string(),
  createdAt: z.iso.datetime(),
  completedAt: z.iso.datetime().nullable(),
  purpose: z.enum(['backup', 'safety']).optional(),
  artifacts: z.array(
    z.object({
      asset: z.string(),
      kind: z.enum(['mysql-dump', 'postgres-dump', 'volume-tar']),
      file: z.string(),
      size: z.number(),
      rawSize: z.number().nullable(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      compression: z.string(),
      engineVersion: z.string().nullable(),
      startedAt: z.iso.datetime(),
      endedAt: z.iso.datetime().nullable(),
      meta: z.record(z.string(), z.unknown()).optional(),
      encryption: z
        .object({
          format: z.literal('age'),
          recipients: z.array(z.string()),
          plaintextSha256: z.string().regex(/^[0-9a-f]{64}$/),
          plaintextSize: z.number(),
        })
        .optional(),
    }),
  ),
  hostSpec: z
    .object({
      format: z.literal(HOST_SPEC_FORMAT),
      containers: z.array(z.object({ name: z.string(), image: z.string() }).loose()),
      networks: z.array(z.object({ name: z.string() }).loose()),
      volumes: z.array(z.object({ name: z.string() }).loose()),
    })
    .loose()
    .optional(),
  state: z
    .object({
      key: z.string().regex(/^drbot-state\/[^/]+\.sqlite\.gz$/),
      size: z.number(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .optional(),
  pruned: z.array(z.object({ asset: z.string(), file: z.string(), prunedAt: z.string() })).optional(),
});

/** Parses a manifest read from a target; the error names what is wrong with it. */
export function parseManifest(text: string): Manifest {
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`not a drbot manifest: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const m = parsed.data;
  return { ...m, id: m.setId, pruned: m.pruned ?? [] } as unknown as Manifest;
}

/** Reads a whole small object from a target as text. */
export async function readText(target: BackupTarget, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await target.read(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The manifest of the set in `dir` on a target. */
export async function readManifest(target: BackupTarget, dir: string): Promise<Manifest> {
  return parseManifest(await readText(target, `${dir}/${MANIFEST_FILE}`));
}
