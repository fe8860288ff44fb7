// The state snapshot uploaded with each backup, serialised, gzipped and hashed in a worker thread.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { gzip } from 'node:zlib';

/** A gzipped state image and its sha256. */
export interface CompressedSnapshot {
  body: Buffer;
  sha256: string;
}

/**
 * The worker: its own read-only connection to the state file takes one consistent image (a
 * read transaction), marks it a rollback-journal file so it stands alone, gzips and hashes it.
 * CommonJS by path, so it runs the same from the sources and from the build.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { gzipSync } = require('node:zlib');
const { createHash } = require('node:crypto');
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
try {
  const image = db.serialize();
  if (image[18] === 2) image[18] = 1;
  if (image[19] === 2) image[19] = 1;
  const body = gzipSync(image);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
  parentPort.postMessage({ body, sha256 }, own ? [body.buffer] : []);
} finally {
  db.close();
}
`;

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * The snapshot of the state file `file`, taken, compressed and hashed off the event loop: a
 * state of a million sets takes seconds to serialise, and the bot must keep answering
 * meanwhile. Memory for the image is the worker's and is freed when it ends.
 */
export function compressedSnapshotOf(file: string): Promise<CompressedSnapshot> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { file, driver } });
    let answered = false;
    worker.once('message', (m: { body: Uint8Array; sha256: string }) => {
      answered = true;
      resolve({ body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength), sha256: m.sha256 });
    });
    worker.once('error', (err) => reject(new Error(`state snapshot failed: ${err.message}`, { cause: err })));
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`state snapshot failed: its worker exited with code ${code}`));
    });
  });
}

/** The same for a state with no file (in memory): on this thread, gzip in libuv's pool. */
export async function compressImage(image: Buffer): Promise<CompressedSnapshot> {
  const body = await promisify(gzip)(image);
  return { body, sha256: createHash('sha256').update(body).digest('hex') };
}
