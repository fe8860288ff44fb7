// The gzip compressor of the backup pipeline: igzip when installed, else parallel zlib.
import { execFile, spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { ErrorCode, externalError, userError } from '../../errors.js';
import { ParallelGzip } from './parallel-gzip.js';

/**
 * Which gzip implementation writes artifacts. Both write plain gzip (`gunzip -c`, `tar xzf`):
 *  - `igzip`: Intel ISA-L's gzip (Debian package `isal`), a separate process. At level 1 it is
 *    6–12× faster than zlib's level 1 on dumps and mixed files, at the same or a better ratio,
 *    which matters most where the dump, the database and compression share a few cores.
 *  - `zlib`: Node's zlib, on every core in blocks (ParallelGzip).
 *  - `auto`: igzip when it is installed, zlib otherwise.
 */
export type CompressorChoice = 'auto' | 'igzip' | 'zlib';

export interface Compression {
  /** Raw bytes in, gzip out. */
  stream: Duplex;
  /** Settles when the compressor is done; rejects with the cause if it failed. */
  done: Promise<void>;
  /** `igzip -1` or `zlib -1`: what compressed, for the run's timeline. */
  tool: string;
}

export const IGZIP = 'igzip';

let igzipAvailable: Promise<boolean> | undefined;

/** Whether `igzip` runs here (checked once per process). */
export function hasIgzip(bin = IGZIP): Promise<boolean> {
  if (bin !== IGZIP) return probe(bin);
  igzipAvailable ??= probe(bin);
  return igzipAvailable;
}

function probe(bin: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 5000 }, (err) => resolve(!err));
  });
}

/** The compressor to use for `choice`; `igzip` when it is not installed is a configuration error. */
export async function compressorFor(
  choice: CompressorChoice,
  level: number,
  bin = IGZIP,
): Promise<() => Compression> {
  const useIgzip = choice === 'zlib' ? false : await hasIgzip(bin);
  if (choice === 'igzip' && !useIgzip) {
    throw userError(
      ErrorCode.CONFIG_INVALID,
      `backup.compressor is igzip, but ${bin} is not installed or does not run: install it (Debian/Ubuntu: apt-get install isal) or set backup.compressor to auto or zlib`,
    );
  }
  return useIgzip ? () => igzipStream(level, bin) : () => zlibStream(level);
}

/** igzip has levels 0–3; drbot's 1–9 map onto 1–3. */
export function igzipLevel(level: number): number {
  return level <= 1 ? 1 : level <= 5 ? 2 : 3;
}

function zlibStream(level: number): Compression {
  const stream = new ParallelGzip({ level });
  const done = new Promise<void>((resolve, reject) => {
    stream.once('finish', resolve);
    stream.once('error', reject);
    stream.once('close', () => resolve());
  });
  done.catch(() => undefined);
  return { stream, done, tool: `zlib -${level}` };
}

/**
 * `igzip -<level> -c` as a stream. Its exit status is checked (a compressor that dies early
 * ends its output cleanly, which must not pass for a complete artifact). If the pipeline is torn
 * down before igzip finished (a target or the source failed), igzip is stopped; `done` then
 * rejects with a plain Error, so the caller reports the failure that caused it, not this one.
 */
export function igzipStream(level: number, bin = IGZIP): Compression {
  const args = [`-${igzipLevel(level)}`, '-c', '-q'];
  const tool = `${bin} ${args[0]}`;
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  let outputEnded = false;
  child.stdout.once('end', () => {
    outputEnded = true;
  });
  const stream = Duplex.from({ writable: child.stdin, readable: child.stdout });
  let stoppedByUs = false;
  stream.once('close', () => {
    if (!outputEnded && child.exitCode === null && child.signalCode === null) {
      stoppedByUs = true;
      child.kill('SIGKILL');
    }
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(externalError(ErrorCode.COMPRESS_FAILED, `cannot run ${bin}: ${err.message}`, { cause: err })),
    );
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      if (stoppedByUs)
        return reject(new Error(`${tool} was stopped because the stream it was part of failed`));
      reject(
        externalError(
          ErrorCode.COMPRESS_FAILED,
          `${tool} ${code === null ? `was stopped by ${signal}` : `exited with code ${code}`}`,
          stderr.trim() ? { stderrTail: stderr.trim() } : {},
        ),
      );
    });
  });
  done.catch(() => undefined);
  return { stream, done, tool };
}
