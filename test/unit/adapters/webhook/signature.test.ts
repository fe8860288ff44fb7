import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../../../src/adapters/webhook/signature.js';

const SECRET = 'hook-secret-1';
const BODY = '{"event":"backup-failed"}';

describe('webhook signature', () => {
  it('is sha256=<hex HMAC-SHA256 of "<timestamp>.<body>"> (a vector computed with Python hmac)', () => {
    expect(signBody(SECRET, 1_700_000_000, BODY)).toBe(
      'sha256=85c8e02f520317af2de960a8e42c209a35140bb092da843b8e8b3ce7f80162ec',
    );
  });

  it('is what a receiver computes with its own HMAC over the same bytes', () => {
    const ts = 1_800_000_123;
    const expected = createHmac('sha256', SECRET).update(`${ts}.${BODY}`).digest('hex');

    expect(signBody(SECRET, ts, BODY)).toBe(`sha256=${expected}`);
  });

  it('verifies the signed body, and refuses another body, another secret, or an old timestamp', () => {
    const ts = 1_700_000_000;
    const signature = signBody(SECRET, ts, BODY);
    const ok = { body: BODY, timestamp: String(ts), signature };

    expect(verifySignature(SECRET, ok, ts + 10)).toBe(true);
    expect(verifySignature(SECRET, { ...ok, body: `${BODY} ` }, ts)).toBe(false);
    expect(verifySignature('other-secret', ok, ts)).toBe(false);
    expect(verifySignature(SECRET, ok, ts + 301)).toBe(false);
    expect(verifySignature(SECRET, { ...ok, timestamp: String(ts + 1) }, ts)).toBe(false);
    expect(verifySignature(SECRET, { ...ok, signature: undefined }, ts)).toBe(false);
    expect(verifySignature(SECRET, { ...ok, timestamp: undefined }, ts)).toBe(false);
  });
});
