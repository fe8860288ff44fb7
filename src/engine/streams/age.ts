// age encryption and decryption as streams: Debian's `age` when installed, else the age-encryption npm package.
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Duplex, PassThrough, Readable, Writable } from 'node:stream';
import { Decrypter, Encrypter } from 'age-encryption';
import type { Config } from '../../config.js';
import { parseIdentityFile } from '../../domain/age-keys.js';
import { ErrorCode, externalError, userError } from '../../errors.js';
import { registerSecret } from '../../secrets.js';

/**
 * Which implementation of the age format runs. Both read and write the same files (the
 * `age` CLI decrypts what the npm package wrote, and the other way round):
 *  - `age`: Debian's `age` (the reference implementation, in Go), a separate process. Its
 *    ChaCha20-Poly1305 is assembly, about 20× faster than the JavaScript one, which matters
 *    where a backup already keeps both cores busy.
 *  - `js`: the age-encryption npm package (by age's author), in this process, through its
 *    streams API: 64 KiB chunks, so memory stays flat whatever the artifact's size.
 *  - `auto`: `age` when it is installed, `js` otherwise.
 */
export type AgeTool = 'auto' | 'age' | 'js';

export const AGE_BIN = 'age';
/** The suffix of an encrypted artifact (`main.sql.gz.age`). */
export const AGE_SUFFIX = '.age';
export const IDENTITY_ENV = 'DRBOT_AGE_IDENTITY_FILE';

/** Whether an artifact file is encrypted (its name says so, in the catalog and on every target). */
export const isEncrypted = (file: string): boolean => file.endsWith(AGE_SUFFIX);

export interface AgeStream {
  /** Bytes in, bytes out: plaintext → age file, or age file → plaintext. */
  stream: Duplex;
  /** Settles when the work is done; rejects with the cause if it failed. */
  done: Promise<void>;
  /** What ran, for the timeline: `age 1.1.1` or `age-encryption (js)`. */
  tool: string;
}

/** An identity to decrypt with: where it came from, and its keys (registered as secrets). */
export interface AgeIdentity {
  path: string;
  /** `DRBOT_AGE_IDENTITY_FILE` or `encryption.identityFile`, for messages. */
  from: string;
  keys: string[];
}

let ageAvailable: Promise<boolean> | undefined;

/** Whether `age` runs here (checked once per process for the default binary). */
export function hasAge(bin = AGE_BIN): Promise<boolean> {
  const probe = () =>
    new Promise<boolean>((res) => execFile(bin, ['--version'], { timeout: 5000 }, (err) => res(!err)));
  if (bin !== AGE_BIN) return probe();
  ageAvailable ??= probe();
  return ageAvailable;
}

async function useCli(tool: AgeTool, bin: string): Promise<boolean> {
  const cli = tool === 'js' ? false : await hasAge(bin);
  if (tool === 'age' && !cli) {
    throw userError(
      ErrorCode.CONFIG_INVALID,
      `encryption.tool is age, but ${bin} is not installed or does not run: install it (Debian/Ubuntu: apt-get install age) or set encryption.tool to auto or js`,
    );
  }
  return cli;
}

/** A factory of encrypting streams to every recipient (public keys only: nothing secret here). */
export async function encrypterFor(
  tool: AgeTool,
  recipients: readonly string[],
  bin = AGE_BIN,
): Promise<() => AgeStream> {
  if (!recipients.length) throw new Error('encrypterFor needs at least one recipient');
  if (await useCli(tool, bin)) {
    const args = recipients.flatMap((r) => ['-r', r]);
    return () => childStream(bin, ['-e', ...args], `${bin} -e`, ErrorCode.ENCRYPTION_FAILED);
  }
  return () =>
    webStream(
      (input) => {
        const e = new Encrypter();
        for (const r of recipients) e.addRecipient(r);
        return e.encrypt(input);
      },
      'age-encryption (js)',
      ErrorCode.ENCRYPTION_FAILED,
    );
}

/**
 * A factory of decrypting streams with an identity. A wrong key, a damaged file and a file cut
 * short all fail the stream (age authenticates every 64 KiB chunk and marks the last one), so
 * a truncated artifact is never read as a shorter plaintext.
 */
export async function decrypterFor(
  tool: AgeTool,
  identity: AgeIdentity,
  bin = AGE_BIN,
): Promise<() => AgeStream> {
  if (await useCli(tool, bin)) {
    // The identity's path is in argv, never the key itself.
    return () => childStream(bin, ['-d', '-i', identity.path], `${bin} -d`, ErrorCode.DECRYPTION_FAILED);
  }
  return () =>
    webStream(
      (input) => {
        const d = new Decrypter();
        for (const k of identity.keys) d.addIdentity(k);
        return d.decrypt(input);
      },
      'age-encryption (js)',
      ErrorCode.DECRYPTION_FAILED,
    );
}

/** Where the identity file is: `DRBOT_AGE_IDENTITY_FILE`, else `encryption.identityFile`. */
export function identityLocation(
  config: Pick<Config, 'encryption' | 'source'>,
  env: NodeJS.ProcessEnv = process.env,
): { path: string; from: string } | undefined {
  const fromEnv = env[IDENTITY_ENV];
  if (fromEnv) return { path: resolve(fromEnv), from: IDENTITY_ENV };
  const file = config.encryption.identityFile;
  if (!file) return undefined;
  return {
    path: resolve(config.source ? dirname(config.source) : process.cwd(), file),
    from: 'encryption.identityFile',
  };
}

/**
 * Loads the identity needed to read encrypted artifacts back, or fails with a user error that
 * says what is missing: `what` names the work that needs it (restore, deep verify, test). The
 * keys are registered as secrets, so no log line, run record or message can carry them.
 */
export async function loadIdentity(
  config: Pick<Config, 'encryption' | 'source'>,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgeIdentity> {
  const where = identityLocation(config, env);
  if (!where) {
    throw userError(
      ErrorCode.IDENTITY_MISSING,
      `${what} needs the age identity (private key) to decrypt the backup, and none is configured: set ${IDENTITY_ENV} to the path of the key file (age-keygen -o FILE), or encryption.identityFile in the config. Nothing was touched. (Plain verify checks the encrypted files' checksums without it.)`,
    );
  }
  let text: string;
  try {
    text = await readFile(where.path, 'utf8');
  } catch (err) {
    throw userError(
      ErrorCode.IDENTITY_MISSING,
      `${what} needs the age identity, but ${where.path} (from ${where.from}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Nothing was touched.`,
    );
  }
  const { identities, badLines } = parseIdentityFile(text);
  for (const k of identities) registerSecret(k);
  if (!identities.length || badLines.length) {
    throw userError(
      ErrorCode.IDENTITY_MISSING,
      `${what} needs the age identity, but ${where.path} (from ${where.from}) is not an age identity file: ${badLines.length ? `line(s) ${badLines.slice(0, 5).join(', ')} are neither comments nor AGE-SECRET-KEY-1… keys` : 'it holds no AGE-SECRET-KEY-1… key'} (the file age-keygen writes). Nothing was touched.`,
    );
  }
  return { ...where, keys: identities };
}

/**
 * Checks that an identity opens an age file, from its header alone (the first few hundred
 * bytes; the header's MAC proves the key), so work that needs the plaintext can stop before
 * touching anything. Resolves to undefined when it opens, else to the reason it does not.
 */
export async function headerOpens(identity: AgeIdentity, stream: Readable): Promise<string | undefined> {
  const d = new Decrypter();
  for (const k of identity.keys) d.addIdentity(k);
  const web = pulledFrom(stream);
  try {
    const out = await d.decrypt(web);
    await out.cancel().catch(() => undefined);
    return undefined;
  } catch (err) {
    return describeAgeError(err);
  } finally {
    stream.destroy();
  }
}

/**
 * A web stream that reads a Node stream only when asked. `Readable.toWeb` pushes whatever the
 * Node stream emits, and once the reader has stopped (the header is read, the rest cancelled)
 * a chunk still in flight is enqueued on a closed controller: an uncaught error that ends the
 * process.
 */
function pulledFrom(stream: Readable): ReadableStream<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await chunks.next();
      if (cancelled) return;
      if (done) controller.close();
      else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    },
    async cancel() {
      cancelled = true;
      await chunks.return?.();
    },
  });
}

/** The age library's terse errors, said as what they mean for a backup. */
function describeAgeError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/no identity matched/i.test(msg))
    return `the identity is not one of the file's recipients (${msg}): it was encrypted to other keys`;
  if (/invalid tag|final chunk|ciphertext|unexpected end|too small|invalid header|missing/i.test(msg))
    return `the encrypted data is damaged or cut short (${msg})`;
  return msg;
}

/** A web-streams transform of the age library as one Node Duplex with backpressure. */
function webStream(
  run: (input: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>,
  tool: string,
  code: ErrorCode,
): AgeStream {
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const writable = Writable.fromWeb(input.writable as WritableStream);
  async function* output(): AsyncGenerator<Uint8Array> {
    try {
      const out = await run(input.readable);
      for await (const chunk of out as unknown as AsyncIterable<Uint8Array>) yield chunk;
    } catch (err) {
      throw externalError(code, `${tool}: ${describeAgeError(err)}`, { cause: err });
    }
  }
  const readable = Readable.from(output(), { objectMode: false, highWaterMark: 256 * 1024 });
  const stream = Duplex.from({ readable, writable });
  const done = new Promise<void>((res, rej) => {
    stream.once('error', rej);
    readable.once('end', () => res());
    stream.once('close', () => res());
  });
  done.catch(() => undefined);
  return { stream, done, tool };
}

/**
 * A child process (`age -e …`, `age -d -i FILE`) as a stream. Its output ends only once it
 * exited 0: a failure (a wrong key, a file cut short, which `age` finds at the end) fails the
 * stream itself, never ends it cleanly. Torn down early, the child is killed.
 */
function childStream(bin: string, args: string[], tool: string, code: ErrorCode): AgeStream {
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  child.stdout.pipe(out, { end: false });
  child.stdin.on('error', () => undefined); // an early exit is reported from its status below
  const stream = Duplex.from({ writable: child.stdin, readable: out });
  let exited = false;
  let stoppedByUs = false;
  stream.once('close', () => {
    if (!exited && child.exitCode === null && child.signalCode === null) {
      stoppedByUs = true;
      child.kill('SIGKILL');
    }
  });
  const done = new Promise<void>((res, rej) => {
    const fail = (e: Error) => {
      out.destroy(e);
      rej(e);
    };
    child.once('error', (err) =>
      fail(externalError(code, `cannot run ${bin}: ${err.message}`, { cause: err })),
    );
    child.once('close', (exitCode, signal) => {
      exited = true;
      if (exitCode === 0) {
        out.end();
        return res();
      }
      // Stopped because the pipeline failed elsewhere: a plain error, so that cause is reported.
      if (stoppedByUs) return fail(new Error(`${tool} was stopped because the stream it was part of failed`));
      const tail = stderr.trim();
      fail(
        externalError(
          code,
          `${tool} ${exitCode === null ? `was stopped by ${signal}` : `exited with code ${exitCode}`}${tail ? `: ${describeAgeError(new Error(tail))}` : ''}`,
          tail ? { stderrTail: tail } : {},
        ),
      );
    });
  });
  done.catch(() => undefined);
  return { stream, done, tool };
}
