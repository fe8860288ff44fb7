// The HMAC-SHA256 signature of a webhook body, and its check (for receivers and tests).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`. */
export const SIGNATURE_HEADER = 'x-drbot-signature';
/** Unix seconds when the body was signed; signed with it, so a replay later is detectable. */
export const TIMESTAMP_HEADER = 'x-drbot-timestamp';

/** The signature header's value for `body` sent at `timestamp` (Unix seconds). */
export function signBody(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Whether `signature` is `body`'s signature under `secret`, and `timestamp` is within
 * `toleranceS` of `nowS` (a receiver refuses replays of old deliveries that way).
 */
export function verifySignature(
  secret: string,
  request: { body: string; timestamp: string | undefined; signature: string | undefined },
  nowS: number,
  toleranceS = 300,
): boolean {
  const ts = Number(request.timestamp);
  if (!request.timestamp || !Number.isInteger(ts) || Math.abs(nowS - ts) > toleranceS) return false;
  const expected = Buffer.from(signBody(secret, ts, request.body));
  const given = Buffer.from(request.signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
