import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger, REDACT_PATHS } from '../../src/log.js';
import { registerSecret } from '../../src/secrets.js';

/** A logger writing into memory; `lines` are the raw lines, `records` the parsed ones. */
function capturedLogger(level?: string) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ destination, ...(level ? { level } : {}) });
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger: secrets with characters JSON escapes', () => {
  it('scrubs a secret containing a quote, a backslash and a tab', () => {
    const secret = 'we"ird\\pass\tword';
    registerSecret(secret);
    const { log, lines, records } = capturedLogger();

    log.info({ password2: secret }, `connect with ${secret}`);

    expect(JSON.stringify(records())).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(records()[0]?.password2).toBe('[REDACTED]');
    expect(records()[0]?.msg).toBe('connect with [REDACTED]');
    expect(lines[0]).not.toContain('ird');
  });
});

describe('createLogger: registered secrets never leave', () => {
  const secret = 'Tr0ub4dor&3-db-password';

  beforeAll(() => {
    registerSecret(secret);
  });

  it('scrubs a secret passed as a field', () => {
    const { log, lines } = capturedLogger();

    log.info({ dsn: `mysql://root:${secret}@mysql-prod:3306/shop` }, 'connecting');

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).toContain('mysql://root:[REDACTED]@mysql-prod:3306/shop');
  });

  it('scrubs a secret nested deep in an object', () => {
    const { log, lines } = capturedLogger();

    log.warn({ exec: { spec: { args: ['--user=root', `--pass=${secret}`] } } }, 'dump started');

    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).toContain('--pass=[REDACTED]');
  });

  it('scrubs a secret inside the message', () => {
    const { log, records } = capturedLogger();

    log.error(`mysqldump: access denied for password ${secret}`);

    expect(records()[0]?.msg).toBe('mysqldump: access denied for password [REDACTED]');
  });

  it('scrubs a secret in child logger bindings and in an error', () => {
    const { log, lines } = capturedLogger();

    log.child({ conn: secret }).error({ err: new Error(`tool echoed ${secret}`) }, 'dump failed');

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).toContain('tool echoed [REDACTED]');
  });

  it('keeps the rest of the line as it was', () => {
    const { log, records } = capturedLogger();

    log.info({ runId: 'run-7', bytes: 1234 }, 'done');

    expect(records()[0]).toMatchObject({ runId: 'run-7', bytes: 1234, msg: 'done', level: 30 });
  });
});

describe('createLogger: fields that hold secrets are censored by path', () => {
  it('censors top-level secret fields whatever their value', () => {
    const { log, records } = capturedLogger();

    log.info(
      {
        password: 'pw-1',
        env: ['MYSQL_ROOT_PASSWORD=pw-2'],
        Env: ['X=1'],
        token: 'tok',
        secret: 's',
        authorization: 'Bearer b',
        signingSecret: 'ss',
        secretAccessKey: 'sak',
        user: 'root',
      },
      'exec',
    );

    expect(records()[0]).toMatchObject({
      password: '[REDACTED]',
      env: '[REDACTED]',
      Env: '[REDACTED]',
      token: '[REDACTED]',
      secret: '[REDACTED]',
      authorization: '[REDACTED]',
      signingSecret: '[REDACTED]',
      secretAccessKey: '[REDACTED]',
      user: 'root',
    });
  });

  it('censors secret fields one level down', () => {
    const { log, lines, records } = capturedLogger();

    log.info(
      {
        db: { user: 'root', password: 'pw-nested' },
        exec: { env: ['A=b'] },
        request: { headers: { host: 'x' } },
      },
      'x',
    );

    expect(records()[0]).toMatchObject({
      db: { user: 'root', password: '[REDACTED]' },
      exec: { env: '[REDACTED]' },
    });
    expect(lines[0]).not.toContain('pw-nested');
  });

  it('censors headers.authorization', () => {
    const { log, records } = capturedLogger();

    log.info({ headers: { authorization: 'Bearer xyz', accept: 'json' } }, 'request');

    expect(records()[0]).toMatchObject({ headers: { authorization: '[REDACTED]', accept: 'json' } });
  });

  it.each(REDACT_PATHS)('censors a value at %s', (path) => {
    const { log, lines } = capturedLogger();
    const value = `plain-value-at-${path}`;
    const obj: Record<string, unknown> = {};
    let at = obj;
    const keys = path.split('.').map((k) => (k === '*' ? 'anything' : k));
    keys.forEach((k, i) => {
      at[k] = i === keys.length - 1 ? value : {};
      at = at[k] as Record<string, unknown>;
    });

    log.info(obj, 'x');

    expect(lines[0]).not.toContain(value);
    expect(lines[0]).toContain('[REDACTED]');
  });
});

describe('createLogger: level', () => {
  it('writes nothing below the configured level', () => {
    const { log, records } = capturedLogger('warn');

    log.info('hidden');
    log.warn('shown');

    expect(records().map((r) => r.msg)).toEqual(['shown']);
  });
});
