import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildConfig, loadConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { EXAMPLE_CONFIG_YAML } from '../fixtures/builders.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The AppError that `fn` throws (fails the test when it throws nothing or something else). */
function configErrorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.kind).toBe('user');
    return e;
  }
  throw new Error('expected a CONFIG_INVALID error, nothing was thrown');
}

describe('buildConfig: defaults', () => {
  it('fills every default from an empty document', () => {
    const config = buildConfig({}, '/etc/drbot/drbot.yaml');

    expect(config.state).toBe('/etc/drbot/data/drbot.sqlite');
    expect(config.docker.host).toBe('unix:///var/run/docker.sock');
    expect(config.storage.local.dir).toBe('/etc/drbot/backups');
    expect(config.storage.s3).toBeUndefined();
    expect(config.storage.offsite).toEqual([]);
    expect(config.backup).toEqual({ parallelism: 2, compressionLevel: 1, compressor: 'auto' });
    expect(config.restore).toEqual({
      readinessTimeout: '5m',
      stopTimeout: '30s',
      shutdownGrace: '10m',
      loadSessions: 'auto',
    });
    expect(config.verify).toEqual({
      readinessTimeout: '3m',
      afterBackup: true,
      schedule: '0 4 * * *',
      concurrency: 1,
      scratch: { cpus: 1, memory: '1g' },
    });
    expect(config.databases).toEqual([]);
    expect(config.services).toEqual([]);
    expect(config.slack).toEqual({
      approvers: [],
      operators: [],
      approvalTimeout: '30m',
      rateLimit: { runs: 10, per: '1m' },
    });
    expect(config.ms.shutdownGrace).toBe(10 * 60_000);
    expect(config.ms.slackRateWindow).toBe(60_000);
    expect(config.source).toBe('/etc/drbot/drbot.yaml');
  });

  it('treats an empty YAML document (null) like an empty object', () => {
    const config = buildConfig(null, '/srv/drbot.yaml');

    expect(config.tierMap.size).toBe(4);
  });

  it('builds the default tiers into the tier map with parsed durations', () => {
    const config = buildConfig({});

    expect([...config.tierMap.keys()]).toEqual(['critical', 'important', 'logs', 'temporary']);
    expect(config.tierMap.get('critical')).toEqual({
      name: 'critical',
      rpoMs: 15 * MINUTE,
      rtoMs: HOUR,
      schedule: '*/10 * * * *',
      retention: { count: 7, unit: 'year' },
      pitrMs: MINUTE,
    });
    expect(config.tierMap.get('logs')?.retention).toEqual({ count: 90, unit: 'day' });
    expect(config.tierMap.get('temporary')).toEqual({
      name: 'temporary',
      rpoMs: undefined,
      rtoMs: undefined,
      schedule: undefined,
      retention: { count: 7, unit: 'day' },
    });
  });

  it('returns a frozen object', () => {
    const config = buildConfig({});

    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('buildConfig: the full example', () => {
  it('parses every section', () => {
    const doc = parseYaml(EXAMPLE_CONFIG_YAML);

    const config = buildConfig(doc, '/opt/drbot/drbot.yaml');

    expect(config.state).toBe('/opt/drbot/data/drbot.sqlite');
    expect(config.storage.local.dir).toBe('/opt/drbot/backups');
    expect(config.storage.s3).toEqual({
      bucket: 'company-backups',
      prefix: 'drbot',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4568',
      forcePathStyle: true,
      storageClass: 'STANDARD_IA',
      confirm: 'checksum',
    });
    expect(config.databases).toEqual([
      {
        name: 'main',
        container: 'mysql-prod',
        engine: 'mysql',
        tier: 'critical',
        user: 'root',
        passwordEnv: 'MYSQL_ROOT_PASSWORD',
      },
    ]);
    expect(config.services).toEqual([{ container: 'web', health: { url: 'http://127.0.0.1:8080/health' } }]);
    expect(config.slack).toEqual({
      reportsChannel: 'C0REPORTS',
      alertsChannel: 'C0ALERTS',
      approvers: ['U0APPROVER'],
      operators: [],
      approvalTimeout: '30m',
      rateLimit: { runs: 10, per: '1m' },
    });
    expect(config.tierMap.get('important')).toMatchObject({
      rpoMs: 24 * HOUR,
      rtoMs: 4 * HOUR,
      retention: { count: 1, unit: 'year' },
    });
    expect(config.tierMap.get('temporary')?.schedule).toBeUndefined();
  });

  it('takes tiers from the file instead of the defaults', () => {
    const config = buildConfig({
      tiers: { gold: { rpo: '1h', schedule: '0 * * * *', retention: '3months' } },
    });

    expect([...config.tierMap.keys()]).toEqual(['gold']);
    expect(config.tierMap.get('gold')).toEqual({
      name: 'gold',
      rpoMs: HOUR,
      rtoMs: undefined,
      schedule: '0 * * * *',
      retention: { count: 3, unit: 'month' },
    });
  });

  it('drops the schedule of a tier marked backup: none', () => {
    const config = buildConfig({
      tiers: { off: { backup: 'none', schedule: '0 2 * * *', retention: '1w' } },
    });

    expect(config.tierMap.get('off')?.schedule).toBeUndefined();
  });
});

describe('buildConfig: paths', () => {
  it('resolves relative state and local dir against the config file directory', () => {
    const config = buildConfig(
      { state: 'state/db.sqlite', storage: { local: { dir: '../archive' } } },
      '/srv/app/conf/drbot.yaml',
    );

    expect(config.state).toBe('/srv/app/conf/state/db.sqlite');
    expect(config.storage.local.dir).toBe('/srv/app/archive');
  });

  it('keeps absolute paths as they are', () => {
    const config = buildConfig(
      { state: '/var/lib/drbot/state.sqlite', storage: { local: { dir: '/mnt/backups' } } },
      '/etc/drbot.yaml',
    );

    expect(config.state).toBe('/var/lib/drbot/state.sqlite');
    expect(config.storage.local.dir).toBe('/mnt/backups');
  });

  it('keeps :memory: as the state', () => {
    const config = buildConfig({ state: ':memory:' }, '/etc/drbot.yaml');

    expect(config.state).toBe(':memory:');
  });

  it('resolves against the working directory when there is no file', () => {
    const config = buildConfig({ state: 'x.sqlite' });

    expect(config.state).toBe(join(process.cwd(), 'x.sqlite'));
    expect(config.source).toBeUndefined();
  });
});

describe('buildConfig: invalid values', () => {
  it('names the key path, the bad value and the span format for a bad RPO', () => {
    const err = configErrorOf(() =>
      buildConfig({ tiers: { critical: { rpo: '15 minutes' } } }, '/etc/drbot.yaml'),
    );

    expect(err.message).toContain('invalid configuration in /etc/drbot.yaml');
    expect(err.message).toContain('tiers.critical.rpo: "15 minutes"');
    expect(err.message).toContain('must be a number with s, m, h, d or w');
  });

  it('names the bad storage class and lists the allowed ones', () => {
    const err = configErrorOf(() =>
      buildConfig({ storage: { s3: { bucket: 'company-backups', storageClass: 'FAST' } } }),
    );

    expect(err.message).toContain('storage.s3.storageClass: "FAST"');
    expect(err.message).toContain('STANDARD_IA');
    expect(err.message).toContain('DEEP_ARCHIVE');
  });

  it('names an unknown top-level key', () => {
    const err = configErrorOf(() => buildConfig({ storge: { local: { dir: '/x' } } }));

    expect(err.message).toContain("unknown key(s) 'storge'");
    expect(err.message).toContain(
      'allowed: state, docker, storage, backup, verify, restore, tiers, databases, services, slack',
    );
  });

  it('lists the allowed keys of a nested object', () => {
    const err = configErrorOf(() => buildConfig({ storage: { local: { dri: './b' } } }));

    expect(err.message).toContain("storage.local: unknown key(s) 'dri' (allowed: dir)");
  });

  it('names a tier name that is not allowed, with the rule', () => {
    const err = configErrorOf(() => buildConfig({ tiers: { 'bad name!': { retention: '7d' } } }));

    expect(err.message).toContain("'bad name!' is not an allowed name — must be letters, digits, _ . -");
  });

  it('names an unknown nested key with its path', () => {
    const err = configErrorOf(() => buildConfig({ tiers: { critical: { rpo: '15m', retain: '7d' } } }));

    expect(err.message).toContain("tiers.critical: unknown key(s) 'retain'");
  });

  it('names a database tier that is not configured and lists the configured tiers', () => {
    const databases = [{ name: 'main', container: 'mysql-prod', engine: 'mysql', tier: 'gold' }];

    const err = configErrorOf(() => buildConfig({ databases }));

    expect(err.message).toContain('databases.0.tier: "gold"');
    expect(err.message).toContain('critical, important, logs, temporary');
  });

  it('names a database name used twice', () => {
    const databases = [
      { name: 'main', container: 'mysql-a', engine: 'mysql', tier: 'critical' },
      { name: 'main', container: 'mysql-b', engine: 'mariadb', tier: 'important' },
    ];

    const err = configErrorOf(() => buildConfig({ databases }));

    expect(err.message).toContain('databases: name "main" is used twice');
  });

  it('names a database engine that is not supported and lists the supported ones', () => {
    const databases = [{ name: 'main', container: 'c', engine: 'oracle', tier: 'critical' }];

    const err = configErrorOf(() => buildConfig({ databases }));

    expect(err.message).toContain('databases.0.engine: "oracle"');
    expect(err.message).toMatch(/mysql.*mariadb.*postgres/);
  });

  it('says a required value is missing', () => {
    const databases = [{ container: 'c', engine: 'mysql', tier: 'critical' }];

    const err = configErrorOf(() => buildConfig({ databases }));

    expect(err.message).toContain('databases.0.name: missing');
  });

  it.each([
    [{ tiers: { x: { schedule: '* *' } } }, 'tiers.x.schedule: "* *"', '5-field cron'],
    [{ tiers: { x: { retention: 'forever' } } }, 'tiers.x.retention: "forever"', '<n><unit>'],
    [{ backup: { parallelism: 0 } }, 'backup.parallelism: 0', '>=1'],
    [{ backup: { compressionLevel: 10 } }, 'backup.compressionLevel: 10', '<=9'],
    [{ backup: { compressor: 'pigz' } }, 'backup.compressor: "pigz"', '"auto"|"igzip"|"zlib"'],
    [
      { storage: { s3: { bucket: 'company-backups', confirm: 'etag' } } },
      'storage.s3.confirm: "etag"',
      '"checksum"|"read-back"',
    ],
    [
      { restore: { loadSessions: 0 } },
      'restore.loadSessions: 0',
      'must be auto or a whole number from 1 to 16',
    ],
    [
      { restore: { loadSessions: 'many' } },
      'restore.loadSessions: "many"',
      'auto or a whole number from 1 to 16',
    ],
    [
      { slack: { approvalTimeout: 'soon' } },
      'slack.approvalTimeout: "soon"',
      'must be a number with s, m, h, d or w',
    ],
    [
      {
        databases: [{ name: 'm', container: 'c', engine: 'mysql', tier: 'critical', passwordEnv: 'MY-PASS' }],
      },
      'databases.0.passwordEnv: "MY-PASS"',
      'environment variable name',
    ],
  ])('rejects %j naming %s', (input, keyAndValue, allowed) => {
    const err = configErrorOf(() => buildConfig(input));

    expect(err.message).toContain(keyAndValue);
    expect(err.message).toContain(allowed);
  });

  it('lists every schema problem, one per line', () => {
    const err = configErrorOf(() => buildConfig({ backup: { parallelism: 0, compressionLevel: 0 } }));

    const lines = err.message.split('\n').filter((l) => l.startsWith('  - '));
    expect(lines).toHaveLength(2);
  });
});

describe('loadConfig', () => {
  let dir: string;
  const originalCwd = process.cwd();

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'drbot-config-')));
  });

  afterEach(() => {
    process.chdir(originalCwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the file named by DRBOT_CONFIG and resolves paths next to it', () => {
    mkdirSync(join(dir, 'conf'));
    const path = join(dir, 'conf', 'drbot.yaml');
    writeFileSync(path, EXAMPLE_CONFIG_YAML);

    const config = loadConfig({ DRBOT_CONFIG: path });

    expect(config.source).toBe(path);
    expect(config.state).toBe(join(dir, 'conf', 'data', 'drbot.sqlite'));
    expect(config.storage.s3?.bucket).toBe('company-backups');
    expect(config.docker.host).toBe('unix:///var/run/docker.sock');
  });

  it('lets DOCKER_HOST win over the file', () => {
    const path = join(dir, 'drbot.yaml');
    writeFileSync(path, EXAMPLE_CONFIG_YAML);

    const config = loadConfig({ DRBOT_CONFIG: path, DOCKER_HOST: 'tcp://10.0.0.5:2375' });

    expect(config.docker.host).toBe('tcp://10.0.0.5:2375');
    expect(config.storage.s3?.bucket).toBe('company-backups');
  });

  it('reports invalid YAML with the file and the line', () => {
    const path = join(dir, 'drbot.yaml');
    writeFileSync(path, 'state: ./x.sqlite\ndocker:\n  host: "a" b\nslack: {}\n');

    const err = configErrorOf(() => loadConfig({ DRBOT_CONFIG: path }));

    expect(err.message).toContain(`config file ${path} is not valid YAML at line 3`);
  });

  it('reports invalid values with the file they came from', () => {
    const path = join(dir, 'drbot.yaml');
    writeFileSync(path, 'tiers:\n  critical: { rpo: 15 minutes }\n');

    const err = configErrorOf(() => loadConfig({ DRBOT_CONFIG: path }));

    expect(err.message).toContain(`invalid configuration in ${path}`);
    expect(err.message).toContain('tiers.critical.rpo: "15 minutes"');
  });

  it('fails when the file named by DRBOT_CONFIG does not exist', () => {
    const path = join(dir, 'missing.yaml');

    const err = configErrorOf(() => loadConfig({ DRBOT_CONFIG: path }));

    expect(err.message).toContain(`cannot read config file ${path}`);
  });

  it('uses the embedded defaults when ./drbot.yaml does not exist', () => {
    process.chdir(dir);

    const config = loadConfig({});

    expect(config.source).toBeUndefined();
    expect(config.state).toBe(join(dir, 'data', 'drbot.sqlite'));
    expect(config.tierMap.size).toBe(4);
  });

  it('reads ./drbot.yaml from the working directory when DRBOT_CONFIG is not set', () => {
    writeFileSync(join(dir, 'drbot.yaml'), 'state: ./here.sqlite\n');
    process.chdir(dir);

    const config = loadConfig({});

    expect(config.source).toBe(join(dir, 'drbot.yaml'));
    expect(config.state).toBe(join(dir, 'here.sqlite'));
  });
});
