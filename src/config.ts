// The configuration: YAML + environment → a validated, frozen Config; errors name key, value, allowed.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { AGE_RECIPIENT_RULE, isAgeRecipient } from './domain/age-keys.js';
import { ASSET_NAME, ASSET_NAME_RULE, ENV_NAME } from './domain/assets.js';
import { isValidCron } from './domain/cron.js';
import {
  parseRetention,
  parseSpan,
  RETENTION_FORMAT,
  type RetentionPeriod,
  SPAN_FORMAT,
} from './domain/duration.js';
import { KEEP_FORMAT, type KeepRules, parseKeepRules } from './domain/keep-rules.js';
import type { Tier } from './domain/policy.js';
import { parseByteSize, SIZE_FORMAT } from './domain/size.js';
import { AppError, ErrorCode } from './errors.js';
import { NOTICE_EVENTS } from './ports/notifier.js';

const span = z.string().refine((v) => parseSpan(v) !== undefined, { message: `must be ${SPAN_FORMAT}` });
const retention = z
  .string()
  .refine((v) => parseRetention(v) !== undefined, { message: `must be ${RETENTION_FORMAT}` });
const keepCount = z.number().int().positive();
const keepRules = z.union([
  z.string().refine(
    (v) => {
      try {
        return parseKeepRules(v) !== undefined;
      } catch {
        return false;
      }
    },
    { message: `must be ${KEEP_FORMAT}` },
  ),
  z
    .object({
      last: keepCount.optional(),
      hourly: keepCount.optional(),
      daily: keepCount.optional(),
      weekly: keepCount.optional(),
      monthly: keepCount.optional(),
      yearly: keepCount.optional(),
    })
    .strict()
    .refine((o) => Object.keys(o).length > 0, {
      message: 'must name at least one rule (last, hourly, daily, weekly, monthly, yearly)',
    }),
]);
// Five cron fields, each made of digits, `*`, `/`, `,`, `-` (node-cron validates the rest).
const cron = z
  .string()
  .refine(isValidCron, { message: 'must be a 5-field cron expression, e.g. "0 2 * * *"' });
const name = z.string().regex(ASSET_NAME, { message: `must be ${ASSET_NAME_RULE}` });

/** The longest delay a Node.js timer can wait (2^31-1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const timerSpan = span.refine((v) => (parseSpan(v) ?? 0) <= MAX_TIMER_MS, {
  message: 'must be at most 24d: a timer cannot wait longer than 2^31-1 ms (about 24.8 days)',
});

/** Who may do what in Slack: user ids (`U…`, `W…`) and user-group ids (`S…`), as Slack writes them. */
const slackPrincipal = z.string().regex(/^[UWS][A-Z0-9]{2,}$/, {
  message: 'must be a Slack user id (U…/W…) or user-group id (S…), e.g. U0123ABCD',
});

/** `host:port` or `[ipv6]:port`, for servers drbot runs (the metrics listener). */
export const LISTEN_FORMAT = 'host:port, e.g. 127.0.0.1:9464 or [::1]:9464 (port 0–65535)';

/** Parses a listen address; undefined when malformed. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !Number.isInteger(port) || port > 65535) return undefined;
  return { host, port };
}
const listenAddress = z
  .string()
  .refine((v) => parseListenAddress(v) !== undefined, { message: `must be ${LISTEN_FORMAT}` });

/**
 * Where `/metrics` and `/healthz` are served when the config does not say. Loopback: they tell
 * anyone who can reach them which assets exist and how old their backups are, and `/healthz`
 * pings the Docker engine; they have no business on the port Slack reaches.
 */
export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9464';

/** Object Lock on an S3 target (DESIGN §10): every object is written with a retain-until date. */
const objectLock = z
  .object({
    mode: z.enum(['governance', 'compliance']),
    /** Days each object stays locked from its write; default: its asset's retention. */
    days: z.number().int().min(1).max(36500).optional(),
  })
  .strict();

/** How a restore brings back an artifact the bucket's lifecycle moved to an archive class. */
const archiveRestore = z
  .object({
    /** S3's retrieval tier: Expedited (GLACIER only, minutes), Standard (hours), Bulk (cheapest). */
    tier: z.enum(['Expedited', 'Standard', 'Bulk']).default('Standard'),
    /** Days the restored copy stays readable. */
    days: z.number().int().min(1).max(30).default(1),
    /** How long a run waits for the copy before it stops (DEEP_ARCHIVE Standard: up to 12h). */
    maxWait: span.default('48h'),
  })
  .strict();

/** A tier's lifecycle transitions (`drbot storage apply`): to `storageClass` `days` after the write. */
const transitions = z.array(
  z
    .object({
      days: z.number().int().min(1).max(36500),
      storageClass: z.enum([
        'STANDARD_IA',
        'ONEZONE_IA',
        'INTELLIGENT_TIERING',
        'GLACIER_IR',
        'GLACIER',
        'DEEP_ARCHIVE',
      ]),
    })
    .strict(),
);

const s3Target = z
  .object({
    bucket: z.string().min(3),
    prefix: z.string().default('drbot'),
    region: z.string().optional(),
    endpoint: z.string().url().optional(),
    forcePathStyle: z.boolean().optional(),
    storageClass: z
      .enum([
        'STANDARD',
        'STANDARD_IA',
        'ONEZONE_IA',
        'INTELLIGENT_TIERING',
        'GLACIER_IR',
        'GLACIER',
        'DEEP_ARCHIVE',
        'REDUCED_REDUNDANCY',
      ])
      .default('STANDARD_IA'),
    /** Multipart part size in MiB; drbot raises it when an artifact could exceed 10,000 parts. */
    partSizeMiB: z.number().int().min(5).max(5120).optional(),
    /**
     * How a backup confirms each uploaded artifact. `checksum`: S3 checks every part's
     * Content-MD5 as it arrives, its ETags must be the MD5s sent and the stored size the bytes
     * sent; nothing is downloaded. `read-back`: the object is downloaded and its sha256 compared
     * (for stores whose ETags are not MD5s; costs a full download per artifact). `drbot verify`
     * always reads back.
     */
    confirm: z.enum(['checksum', 'read-back']).default('checksum'),
    objectLock: objectLock.optional(),
    archiveRestore: archiveRestore.optional(),
  })
  .strict();

const tier = z
  .object({
    rpo: span.optional(),
    rto: span.optional(),
    schedule: cron.optional(),
    retention: retention.optional(),
    /** Keep rules beside the age (`7d+4w+12m`, or { daily: 7, weekly: 4 }): kept if either keeps it. */
    keep: keepRules.optional(),
    backup: z.literal('none').optional(),
    /** Point-in-time recovery (DESIGN §11): the longest a binary log may stay un-archived, or off. */
    pitr: z.union([z.literal('off'), span]).optional(),
    /** Lifecycle transitions of this tier's artifacts; default: see engine/storage/lifecycle.ts. */
    transitions: transitions.optional(),
  })
  .strict();

const database = z
  .object({
    name,
    container: z.string().min(1),
    engine: z.enum(['mysql', 'mariadb', 'postgres']),
    tier: z.string(),
    user: z.string().optional(),
    passwordEnv: z.string().regex(ENV_NAME, { message: 'must be an environment variable name' }).optional(),
    retention: retention.optional(),
  })
  .strict();

const service = z
  .object({
    container: z.string().min(1),
    health: z
      .object({ url: z.string().url().optional(), cmd: z.array(z.string()).min(1).optional() })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The default tier table. Each RPO holds its own rule (`policy`: longest interval between
 * backups + the run's duration ≤ RPO; the monitor counts verified sets only): a daily backup
 * can never be younger than 24h when the next one lands, so `important` (daily, like the
 * `backup=daily` label) promises 26h, which leaves 2h for the dump, upload and deep verify
 * before the alert; `logs` (weekly) promises 8d, a day for the run and a re-run. `critical`
 * every 10 minutes leaves 5 minutes of its 15.
 */
export const DEFAULT_TIERS = {
  critical: { rpo: '15m', rto: '1h', schedule: '*/10 * * * *', retention: '7years', pitr: '1m' },
  important: { rpo: '26h', rto: '4h', schedule: '0 2 * * *', retention: '1year' },
  logs: { rpo: '8d', rto: '24h', schedule: '0 3 * * 0', retention: '90days' },
  temporary: { backup: 'none' as const, retention: '7days' },
};

const LOAD_SESSIONS_ALLOWED = 'must be auto or a whole number from 1 to 16';

const byteSize = z
  .union([z.string(), z.number()])
  .refine((v) => parseByteSize(v) !== undefined, { message: `must be ${SIZE_FORMAT}` });

/**
 * What one scratch database container of a deep verify or recovery test may use (Docker's
 * `--cpus` and `--memory`; 0 = no limit). They run on the production host, beside what they
 * protect.
 */
const scratchLimits = z
  .object({
    cpus: z.number().min(0).max(1024).default(1),
    memory: byteSize.default('1g'),
  })
  .strict();

/**
 * Client-side encryption (DESIGN §10): with recipients, every artifact is encrypted to all of
 * them with age in the same streamed pass (`<asset>.sql.gz.age`, `<asset>.tar.gz.age`). The
 * private key is needed only to read plaintext back (restore, deep verify, test):
 * `DRBOT_AGE_IDENTITY_FILE` wins over `identityFile`.
 */
const encryption = z
  .object({
    recipients: z
      .array(
        z.string().refine(isAgeRecipient, {
          message: `must be ${AGE_RECIPIENT_RULE}; the private key (AGE-SECRET-KEY-1…) never goes in the config, only its path in identityFile`,
        }),
      )
      .default([]),
    /** An age identity file (`age-keygen -o FILE`); relative to the config file. */
    identityFile: z.string().min(1).optional(),
    /**
     * Which age implementation runs: `age` (Debian's `age`, the reference implementation,
     * about 20× faster), `js` (the age-encryption npm package, in process), `auto`: `age` when
     * installed. Both read and write the same age format.
     */
    tool: z.enum(['auto', 'age', 'js']).default('auto'),
  })
  .strict();

/** An environment variable's name: where a secret (an HMAC key, a URL holding a token) is read from. */
const envName = z
  .string()
  .regex(ENV_NAME, { message: 'must be an environment variable name, e.g. DRBOT_WEBHOOK_SECRET' });
const httpUrl = z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
  message: 'must be an http:// or https:// URL',
});
/** Exactly one of `url` (in the file) or `urlEnv` (a URL with a token in it, from the environment). */
const oneUrl = (w: { url?: string | undefined; urlEnv?: string | undefined }) =>
  (w.url === undefined) !== (w.urlEnv === undefined);
const ONE_URL = 'give exactly one of url (in the file) or urlEnv (the name of a variable holding it)';

/**
 * Notifications that do not depend on Slack (README "Notifications that do not depend on
 * Slack"): JSON webhooks, optionally HMAC-signed, and dead-man's-switch pings per schedule.
 */
const notifications = z
  .object({
    webhooks: z
      .array(
        z
          .object({
            url: httpUrl.optional(),
            urlEnv: envName.optional(),
            /** Signs each body with HMAC-SHA256 under this variable's value (X-Drbot-Signature). */
            secretEnv: envName.optional(),
            /** Only these events; every event when unset. */
            events: z.array(z.enum(NOTICE_EVENTS)).min(1).optional(),
          })
          .strict()
          .refine(oneUrl, { message: ONE_URL, path: ['url'] }),
      )
      .default([]),
    pings: z
      .array(
        z
          .object({
            /** Scheduled backups of this tier's assets ping… */
            tier: name.optional(),
            /** …or those of the schedule group with exactly this cron expression. */
            schedule: cron.optional(),
            url: httpUrl.optional(),
            urlEnv: envName.optional(),
          })
          .strict()
          .refine((p) => (p.tier === undefined) !== (p.schedule === undefined), {
            message: 'give exactly one of tier (a configured tier) or schedule (a cron expression)',
            path: ['tier'],
          })
          .refine(oneUrl, { message: ONE_URL, path: ['url'] }),
      )
      .default([]),
    /** Each delivery: up to `attempts` tries, waiting backoff, 2×backoff, … (at most maxBackoff) between. */
    retry: z
      .object({
        attempts: z.number().int().min(1).max(10).default(4),
        backoff: timerSpan.default('1s'),
        maxBackoff: timerSpan.default('30s'),
      })
      .strict()
      .default({ attempts: 4, backoff: '1s', maxBackoff: '30s' }),
    /** How long one try may take before it counts as failed. */
    timeout: timerSpan.default('10s'),
  })
  .strict();

const configSchema = z
  .object({
    state: z.string().default('./data/drbot.sqlite'),
    docker: z
      .object({
        host: z.string().default('unix:///var/run/docker.sock'),
        /**
         * Image for the one job the archive API cannot do: deleting files a restore must remove.
         * Needs `rm`. Default: the image of a container that uses the volume.
         */
        helperImage: z.string().optional(),
      })
      .strict()
      .default({ host: 'unix:///var/run/docker.sock' }),
    storage: z
      .object({
        local: z
          .object({ dir: z.string().default('./backups') })
          .strict()
          .default({ dir: './backups' }),
        s3: s3Target.optional(),
        offsite: z.array(s3Target).default([]),
      })
      .strict()
      .default({ local: { dir: './backups' }, offsite: [] }),
    backup: z
      .object({
        /** How many assets of one run are dumped/archived at once. */
        parallelism: z.number().int().min(1).max(16).default(2),
        /**
         * gzip level: 1 is fastest, 9 smallest (igzip: 1 → 1, 2–5 → 2, 6–9 → 3). On dumps,
         * levels above 1 save a few per cent of space for 1.5–3× the CPU.
         */
        compressionLevel: z.number().int().min(1).max(9).default(1),
        /** Which gzip writes artifacts: igzip (ISA-L) when installed, else Node's zlib. */
        compressor: z.enum(['auto', 'igzip', 'zlib']).default('auto'),
      })
      .strict()
      .default({ parallelism: 2, compressionLevel: 1, compressor: 'auto' }),
    verify: z
      .object({
        /** How long a scratch database may take to accept connections in a deep verify. */
        readinessTimeout: span.default('3m'),
        /** Deep-verify each scheduled backup right after it (what keeps "verified" within RPO). */
        afterBackup: z.boolean().default(true),
        /** The recovery drill: deep-verify the newest backup of every asset on this schedule. */
        schedule: cron.default('0 4 * * *'),
        /**
         * Deep verifies and recovery tests at once in this drbot process (each starts scratch
         * copies of databases): a request beyond it is refused naming the one running; the
         * scheduler's own wait for their turn.
         */
        concurrency: z.number().int().min(1).max(16).default(1),
        scratch: scratchLimits.default({ cpus: 1, memory: '1g' }),
      })
      .strict()
      .default({
        readinessTimeout: '3m',
        afterBackup: true,
        schedule: '0 4 * * *',
        concurrency: 1,
        scratch: { cpus: 1, memory: '1g' },
      }),
    restore: z
      .object({
        /** How long services and databases may take to be ready again after a restore. */
        readinessTimeout: span.default('5m'),
        /** Grace period for stopping a service before it is killed. */
        stopTimeout: span.default('30s'),
        /**
         * On SIGTERM/SIGINT, how long drbot waits for a restore that is replacing data to finish
         * before it gives up on it (marks it failed and starts the services it stopped). The
         * container's stop timeout must be longer, or Docker kills drbot first.
         */
        shutdownGrace: timerSpan.default('10m'),
        /**
         * Client sessions that load a MySQL/MariaDB dump at once (row inserts spread over
         * them); `auto` is one per CPU, at most 4. 1 loads it as one `mysql < dump` would.
         */
        loadSessions: z
          .union(
            [
              z.literal('auto'),
              z
                .number()
                .int(LOAD_SESSIONS_ALLOWED)
                .min(1, LOAD_SESSIONS_ALLOWED)
                .max(16, LOAD_SESSIONS_ALLOWED),
            ],
            { error: LOAD_SESSIONS_ALLOWED },
          )
          .default('auto'),
      })
      .strict()
      .default({ readinessTimeout: '5m', stopTimeout: '30s', shutdownGrace: '10m', loadSessions: 'auto' }),
    tiers: z.record(name, tier).default(DEFAULT_TIERS),
    databases: z.array(database).default([]),
    services: z.array(service).default([]),
    slack: z
      .object({
        reportsChannel: z.string().optional(),
        alertsChannel: z.string().optional(),
        /** Who may approve restores; the Slack app refuses to start without one (requireSlackAccess). */
        approvers: z.array(slackPrincipal).default([]),
        /**
         * Who may run operator commands from Slack. Empty refuses them all: DESIGN §4 once read
         * "empty = any member", which left every member of the workspace able to back up,
         * verify, test, cancel and request restores; access is now granted, never assumed.
         */
        operators: z.array(slackPrincipal).default([]),
        approvalTimeout: timerSpan.default('30m'),
        /** The workspace (`T…`, or an Enterprise org `E…`) every request must come from; unset: not checked. */
        teamId: z
          .string()
          .regex(/^[TE][A-Z0-9]{2,}$/, { message: 'must be a Slack team id (T…) or org id (E…)' })
          .optional(),
        /** This Slack app's id (`A…`, in the app's settings); unset: not checked. */
        appId: z
          .string()
          .regex(/^A[A-Z0-9]{2,}$/, { message: 'must be a Slack app id (A…)' })
          .optional(),
        /** Post backup reports as one digest on this schedule instead of one per backup. */
        digest: cron.optional(),
        /** How many runs (backup, verify, test, restore, undo) one person may start per window. */
        rateLimit: z
          .object({ runs: z.number().int().min(1).max(1000).default(10), per: timerSpan.default('1m') })
          .strict()
          .default({ runs: 10, per: '1m' }),
      })
      .strict()
      .default({
        approvers: [],
        operators: [],
        approvalTimeout: '30m',
        rateLimit: { runs: 10, per: '1m' },
      }),
    metrics: z
      .object({
        /**
         * Where `/metrics` and `/healthz` listen (`DRBOT_METRICS_LISTEN` wins). The Slack app
         * serves them on DEFAULT_METRICS_LISTEN when unset; the terminal session only when set.
         */
        listen: listenAddress.optional(),
      })
      .strict()
      .default({}),
    encryption: encryption.default({ recipients: [], tool: 'auto' }),
    notifications: notifications.default({
      webhooks: [],
      pings: [],
      retry: { attempts: 4, backoff: '1s', maxBackoff: '30s' },
      timeout: '10s',
    }),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
export type S3TargetConfig = z.infer<typeof s3Target>;
export type DatabaseConfig = z.infer<typeof database>;

export interface Config extends RawConfig {
  /** Where the file was read from (undefined: embedded defaults). */
  source: string | undefined;
  tierMap: ReadonlyMap<string, Tier>;
  /** Every duration of the file, parsed to milliseconds once here (the text stays above). */
  ms: {
    restoreReadiness: number;
    restoreStop: number;
    verifyReadiness: number;
    approval: number;
    shutdownGrace: number;
    slackRateWindow: number;
  };
}

/** A span the schema has validated, in milliseconds. */
const msOf = (text: string): number => parseSpan(text) as number;

/** Formats a zod issue as `key: bad value → what is allowed`. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  let value: unknown = input;
  for (const p of issue.path)
    value =
      value && typeof value === 'object'
        ? (value as Record<PropertyKey, unknown>)[p as PropertyKey]
        : undefined;
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(issue.path);
    return `${key}: unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}${allowed ? ` (allowed: ${allowed.join(', ')})` : ''}`;
  }
  if (issue.code === 'invalid_key') {
    return `${key}: '${String(issue.path.at(-1))}' is not an allowed name — must be letters, digits, _ . - (max 128)`;
  }
  // A private key pasted where a public one belongs is not echoed back (it would reach logs).
  const shown =
    value === undefined
      ? 'missing'
      : typeof value === 'string' && /AGE-SECRET-KEY-/i.test(value)
        ? '(an age private key, not shown)'
        : JSON.stringify(value);
  return `${key}: ${shown} — ${issue.message}`;
}

/** The keys the schema accepts at a path (for "unknown key" messages). */
function allowedKeys(path: readonly PropertyKey[]): string[] | undefined {
  let schema: z.ZodType = configSchema;
  for (const p of path) {
    const def = unwrap(schema);
    if (def instanceof z.ZodObject) schema = def.shape[p as string] as z.ZodType;
    else if (def instanceof z.ZodArray) schema = def.element as z.ZodType;
    else if (def instanceof z.ZodRecord) schema = def.valueType as z.ZodType;
    else return undefined;
    if (!schema) return undefined;
  }
  const def = unwrap(schema);
  return def instanceof z.ZodObject ? Object.keys(def.shape) : undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s;
}

/** Validates a parsed YAML document into a frozen Config; errors name key, value and what is allowed. */
export function buildConfig(input: unknown, source?: string): Config {
  const parsed = configSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${describeIssue(i, input)}`);
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'user',
      `invalid configuration${source ? ` in ${source}` : ''}:\n${lines.join('\n')}`,
    );
  }
  const raw = parsed.data;
  const problems: string[] = [];
  const tierMap = new Map<string, Tier>();
  for (const [tierName, t] of Object.entries(raw.tiers)) {
    const parsedRet: RetentionPeriod | undefined =
      t.retention === undefined && t.keep
        ? { count: 0, unit: 'day' }
        : parseRetention(t.retention ?? '7days');
    const extra: KeepRules | undefined =
      typeof t.keep === 'string'
        ? parseKeepRules(t.keep)
        : t.keep &&
          (Object.fromEntries(Object.entries(t.keep).filter(([, v]) => v !== undefined)) as KeepRules);
    if (extra && parsedRet?.keep)
      problems.push(
        `tiers.${tierName}: keep rules are given both in retention and in keep — give them in one place`,
      );
    const ret = parsedRet && extra ? { ...parsedRet, keep: extra } : parsedRet;
    tierMap.set(tierName, {
      name: tierName,
      rpoMs: t.rpo ? parseSpan(t.rpo) : undefined,
      rtoMs: t.rto ? parseSpan(t.rto) : undefined,
      schedule: t.backup === 'none' ? undefined : t.schedule,
      retention: ret ?? { count: 7, unit: 'day' },
      ...(t.pitr && t.pitr !== 'off' ? { pitrMs: parseSpan(t.pitr) as number } : {}),
    });
  }
  raw.databases.forEach((db, i) => {
    if (!tierMap.has(db.tier)) {
      problems.push(
        `databases.${i}.tier: "${db.tier}" — must be one of the configured tiers: ${[...tierMap.keys()].join(', ')}`,
      );
    }
  });
  raw.notifications.pings.forEach((p, i) => {
    if (p.tier !== undefined && !tierMap.has(p.tier))
      problems.push(
        `notifications.pings.${i}.tier: "${p.tier}" — must be one of the configured tiers: ${[...tierMap.keys()].join(', ')}`,
      );
  });
  const dbNames = raw.databases.map((d) => d.name);
  const dup = dbNames.find((n, i) => dbNames.indexOf(n) !== i);
  if (dup) problems.push(`databases: name "${dup}" is used twice — names must be unique`);
  if (problems.length) {
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'user',
      `invalid configuration${source ? ` in ${source}` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  const base = source ? dirname(source) : process.cwd();
  const config: Config = {
    ...raw,
    state: raw.state === ':memory:' ? raw.state : resolve(base, raw.state),
    storage: { ...raw.storage, local: { dir: resolve(base, raw.storage.local.dir) } },
    source,
    tierMap,
    ms: {
      restoreReadiness: msOf(raw.restore.readinessTimeout),
      restoreStop: msOf(raw.restore.stopTimeout),
      verifyReadiness: msOf(raw.verify.readinessTimeout),
      approval: msOf(raw.slack.approvalTimeout),
      shutdownGrace: msOf(raw.restore.shutdownGrace),
      slackRateWindow: msOf(raw.slack.rateLimit.per),
    },
  };
  return Object.freeze(config);
}

/**
 * Loads `DRBOT_CONFIG` (default `./drbot.yaml`). A missing default file means the embedded
 * defaults; a missing file that was asked for by name is an error.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const explicit = env.DRBOT_CONFIG;
  const path = resolve(explicit ?? './drbot.yaml');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return withEnv(buildConfig({}), env);
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'user',
      `cannot read config file ${path}${explicit ? ' (from DRBOT_CONFIG)' : ''}: ${(err as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'user',
      `config file ${path} is not valid YAML${where}: ${(err as Error).message}`,
    );
  }
  return withEnv(buildConfig(doc, path), env);
}

/** DOCKER_HOST (DESIGN §4) and DRBOT_METRICS_LISTEN win over the file. */
function withEnv(config: Config, env: NodeJS.ProcessEnv): Config {
  const listen = env.DRBOT_METRICS_LISTEN;
  if (listen !== undefined && parseListenAddress(listen) === undefined) {
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'user',
      `invalid environment: DRBOT_METRICS_LISTEN: ${JSON.stringify(listen)} — must be ${LISTEN_FORMAT}`,
    );
  }
  if (!env.DOCKER_HOST && listen === undefined) return config;
  return Object.freeze({
    ...config,
    // The rest of the docker section (helperImage) stays as the file says.
    ...(env.DOCKER_HOST ? { docker: { ...config.docker, host: env.DOCKER_HOST } } : {}),
    ...(listen !== undefined ? { metrics: { ...config.metrics, listen } } : {}),
  });
}

/**
 * What the Slack app needs before it may start (the terminal and the CLI do not): an approver,
 * or no restore asked for in Slack could ever be approved. Throws CONFIG_INVALID naming the key.
 * An empty `slack.operators` does not stop start-up (read-only commands still work); the app
 * refuses operator commands and says how to configure them.
 */
export function requireSlackAccess(config: Config): void {
  if (config.slack.approvers.length) return;
  throw new AppError(
    ErrorCode.CONFIG_INVALID,
    'user',
    `invalid configuration${config.source ? ` in ${config.source}` : ''} for the Slack app:\n  - slack.approvers: [] — must list at least one Slack user id (U…/W…) or user-group id (S…) who may approve restores, e.g. approvers: [U0123ABCD]`,
  );
}
