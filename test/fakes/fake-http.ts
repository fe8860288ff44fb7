/** Small HTTP and polling helpers shared by the loopback fakes. */
import type { IncomingMessage } from 'node:http';

type Json = Record<string, unknown>;

/** Fields that the Slack WebClient JSON-encodes inside a form body. */
const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata'];

/** Reads a whole request body as UTF-8. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Decodes a Web API body the way Slack does. Form values stay strings (`"true"`, `"42"`) except
 * the JSON-encoded fields, which are parsed; `error` is the Slack error code for an unreadable body.
 */
export function decodeSlackBody(
  raw: string,
  contentType: string | undefined,
): { body: Json; error?: string } {
  if (contentType?.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(raw || '{}');
      return { body: typeof parsed === 'object' && parsed !== null ? (parsed as Json) : {} };
    } catch {
      return { body: { raw }, error: 'invalid_json' };
    }
  }
  if (contentType?.startsWith('multipart/')) return { body: {}, error: 'invalid_form_data' };
  const body: Json = Object.fromEntries(new URLSearchParams(raw));
  for (const key of JSON_FIELDS) {
    const value = body[key];
    if (typeof value !== 'string') continue;
    // An undecodable value stays a string; the Block Kit check reports it.
    try {
      body[key] = JSON.parse(value);
    } catch {}
  }
  return { body };
}

/** Shortens text for failure messages. */
export const clip = (text: string, max = 160): string =>
  text.length > max ? `${text.slice(0, max)}…` : text;

/**
 * Polls `find` every 5 ms until it returns a value, or rejects with `describe()` after the
 * timeout. Real time, not a fake clock: the thing awaited happens in another socket's callback.
 */
export async function poll<T>(
  find: () => T | undefined,
  timeoutMs: number,
  describe: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() >= deadline) throw new Error(`fake Slack: after ${timeoutMs} ms, ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
