// How errors are described to people: stderr tails cut to their end and scrubbed of secrets.
import { describe, expect, it } from 'vitest';
import { AppError, describeError, ErrorCode, STDERR_SHOWN, scrubbedError } from '../../src/errors.js';
import { registerSecret } from '../../src/secrets.js';

describe('describeError: stderr tails', () => {
  it('shows only the last lines of a long stderr, at most a bounded number of characters', () => {
    const stderr = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(80)}`).join('\n');
    const err = new AppError(ErrorCode.DUMP_EXIT_NONZERO, 'external', 'mysqldump exited 2', {
      asset: 'db',
      step: 'dump',
      stderrTail: stderr,
    });

    const text = describeError(err);

    const shown = text.split(' — stderr: ')[1] ?? '';
    expect(text).toMatch(/^asset db, step dump: mysqldump exited 2 — stderr: …/);
    expect(shown.length).toBeLessThanOrEqual(STDERR_SHOWN.chars + 1);
    expect(shown.split('\n').length).toBeLessThanOrEqual(STDERR_SHOWN.lines);
    expect(shown).toContain('line 199');
    expect(shown).not.toContain('line 150 ');
  });

  it('scrubs a secret out of the stderr even when it sits where the cut falls', () => {
    const forget = registerSecret('Pw-9f3e1c7a5b');
    const stderr = `${'y'.repeat(2000)}Pw-9f3e1c7a5b${'z'.repeat(STDERR_SHOWN.chars - 5)}`;

    const text = describeError(
      new AppError(ErrorCode.RESTORE_FAILED, 'external', 'load failed', { stderrTail: stderr }),
    );

    forget();
    // A cut after scrubbing leaves the mask's end, never the secret's.
    expect(text).not.toMatch(/Pw-9f|c7a5b/);
    expect(text).toMatch(/— stderr: …[A-Z\]]*z+$/);
  });

  it('scrubs short secrets from the message and the stderr', () => {
    const forget = registerSecret('k7');

    const text = describeError(
      new AppError(ErrorCode.RESTORE_FAILED, 'external', 'login k7 refused', { stderrTail: 'pw k7\n' }),
    );

    forget();
    expect(text).toBe('login [REDACTED] refused — stderr: pw [REDACTED]');
  });

  it('keeps a short stderr whole', () => {
    const text = describeError(
      new AppError(ErrorCode.DUMP_EXIT_NONZERO, 'external', 'exited 1', { stderrTail: 'one\ntwo\n' }),
    );

    expect(text).toBe('exited 1 — stderr: one\ntwo');
  });
});

describe('scrubbedError', () => {
  it('keeps code, kind, asset and step, scrubs message and stderr, and drops the cause', () => {
    const forget = registerSecret('scratch-feedbeef');
    const err = new AppError(ErrorCode.NOT_READY, 'external', 'auth scratch-feedbeef failed', {
      asset: 'db',
      step: 'deep-verify',
      stderrTail: 'using scratch-feedbeef',
      cause: new Error('inner scratch-feedbeef'),
    });

    const out = scrubbedError(err);

    forget();
    expect(out).toMatchObject({ code: 'NOT_READY', kind: 'external', asset: 'db', step: 'deep-verify' });
    expect(out.message).toBe('auth [REDACTED] failed');
    expect(out.stderrTail).toBe('using [REDACTED]');
    expect(out.cause).toBeUndefined();
    expect(out.stack).not.toContain('scratch-feedbeef');
  });
});
