// Loads a MySQL/MariaDB dump through several client sessions at once.
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { ErrorCode, externalError } from '../../errors.js';
import type { ExecResult } from '../../ports/container-runtime.js';
import { dbClient } from './db-clients.js';
import type { DbTarget } from './types.js';

/**
 * Loads a MySQL/MariaDB dump through several client sessions at once, the way `myloader`
 * does, so a restore is not held to what one server thread can insert.
 *
 * The dump is read once, line by line, and nothing is held back: the first session gets
 * everything in order (header, DDL, views, routines, triggers, footer). Only the INSERT
 * statements inside a table's data section (`LOCK TABLES t WRITE` … `UNLOCK TABLES`) are spread
 * over the sessions, each whole statement to the session with the least waiting. The order
 * that matters is kept with barriers: a table's rows go to other sessions only after the first
 * session has run its CREATE TABLE, and any statement that is not a row insert (ENABLE KEYS, a
 * trigger, the next table) waits until every session has run the rows sent before it. The
 * section's LOCK/UNLOCK TABLES are left out, as they would block the other sessions.
 *
 * Every session starts with the dump's header (character set, time zone, SQL mode, unique and
 * foreign key checks off), and its current database is the one the dump had selected.
 * A dump the scanner does not recognise (no data sections, another delimiter) simply runs in
 * the first session, as one client would run it.
 */

/** Bytes a session's stdin may buffer before the dump waits for it. */
const SESSION_BUFFER = 256 * 1024;
/** Longest line start looked at to classify a statement; longer lines are judged by prefix. */
const CLASSIFY_BYTES = 1024;
/** The header replayed to every session is small; a bigger one means an unknown dump format. */
const HEADER_LIMIT = 64 * 1024;

const NL = 0x0a;
const EMPTY = Buffer.alloc(0);
const INSERT = Buffer.from('INSERT INTO ');
const LOCK = /^LOCK TABLES `(?:[^`]|``)+` WRITE;\s*$/;
const UNLOCK = /^UNLOCK TABLES;\s*$/;
const USE = /^USE `(?:[^`]|``)+`;\s*$/;
const DELIMITER = /^DELIMITER\s+(\S+)\s*$/i;

/** A client session inside the container: stdin we write SQL to, and a way to know it ran it. */
export class SqlSession {
  /** The `USE` line this session last got. */
  db: Buffer | undefined;
  /** True when it got statements since it was last known to have run everything. */
  dirty = false;
  private failure: Error | undefined;
  private readonly failureListeners = new Set<(err: Error) => void>();
  private readonly waiting: { token: string; resolve: () => void }[] = [];
  private readonly nonce = randomBytes(6).toString('hex');
  private seq = 0;
  private stdoutTail = '';
  private ended = false;
  readonly exited: Promise<ExecResult>;

  private constructor(
    readonly label: string,
    private readonly input: PassThrough,
    stdout: NodeJS.ReadableStream,
    done: Promise<ExecResult>,
    describeExit: (res: ExecResult) => Error,
  ) {
    stdout.setEncoding('utf8');
    stdout.on('data', (text: string) => this.onStdout(text));
    this.exited = done.then(
      (res) => {
        if (res.exitCode !== 0 || !this.ended) this.fail(describeExit(res));
        return res;
      },
      (err: Error) => {
        this.fail(err);
        throw err;
      },
    );
    this.exited.catch(() => undefined);
  }

  static async open(t: DbTarget, client: string, label: string): Promise<SqlSession> {
    const c = dbClient(t.engine);
    const input = new PassThrough({ highWaterMark: SESSION_BUFFER });
    const exec = await t.runtime.execStream(t.container, {
      cmd: [...c.restoreArgs(client, t.user), '--batch', '--skip-column-names', '--unbuffered'],
      env: c.passwordEnv(t.password),
      stdin: input,
    });
    return new SqlSession(label, input, exec.stdout, exec.done, (res) =>
      externalError(
        ErrorCode.RESTORE_FAILED,
        `${client} in container ${t.container} exited with code ${res.exitCode} while loading the dump`,
        {
          asset: t.asset,
          step: 'restore',
          // The client's line numbers count from the start of its own session's input.
          stderrTail: `${res.stderrTail.trim().split('\n').slice(-8).join('\n')}\n(in ${label}: line numbers count from the start of that session's input, not of the dump)`,
        },
      ),
    );
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  onFailure(listener: (err: Error) => void): void {
    if (this.failure) listener(this.failure);
    else this.failureListeners.add(listener);
  }

  write(bytes: Buffer): void {
    this.input.write(bytes);
  }

  get buffered(): number {
    return this.input.writableLength + this.input.readableLength;
  }

  get full(): boolean {
    return this.input.writableNeedDrain;
  }

  /** Resolves when the session has room for more input again. */
  drained(): Promise<void> {
    if (!this.input.writableNeedDrain) return Promise.resolve();
    return this.guard(new Promise((resolve) => this.input.once('drain', resolve)));
  }

  /** Resolves once the server has run every statement written to this session so far. */
  sync(): Promise<void> {
    const token = `drbot-load-sync-${this.nonce}-${++this.seq}`;
    const reached = new Promise<void>((resolve) => this.waiting.push({ token, resolve }));
    this.input.write(`SELECT '${token}';\n`);
    return this.guard(reached).then(() => {
      this.dirty = false;
    });
  }

  /** No more input: the client runs what it has and exits. */
  end(): Promise<ExecResult> {
    this.ended = true;
    this.input.end();
    return this.exited;
  }

  /** Stops feeding the client after a failure elsewhere. */
  abort(err: Error): void {
    this.ended = true;
    this.input.destroy(err);
  }

  /** `p`, or the session's failure if that comes first. */
  private guard<T>(p: Promise<T>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.failureListeners.add(reject);
      p.then(
        (v) => {
          this.failureListeners.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          this.failureListeners.delete(reject);
          reject(err);
        },
      );
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const listener of this.failureListeners) listener(err);
    this.failureListeners.clear();
  }

  private onStdout(text: string): void {
    const lines = (this.stdoutTail + text).split('\n');
    this.stdoutTail = (lines.pop() ?? '').slice(-256);
    for (const line of lines) {
      const next = this.waiting[0];
      if (next && line.trim() === next.token) {
        this.waiting.shift();
        next.resolve();
      }
    }
  }
}

type Kind = 'neutral' | 'header' | 'delimiter' | 'use' | 'lock' | 'unlock' | 'insert' | 'other';

/**
 * A writable end for the decompressed dump. `open(label)` opens one more client session;
 * `sessions` is how many to use at most (the first one is opened at once).
 */
export class MysqlParallelLoader extends Writable {
  private readonly sessions: SqlSession[] = [];
  private main: SqlSession | undefined;
  private workersOpened = false;
  private readonly header: Buffer[] = [];
  private headerBytes = 0;
  private inHeader = true;
  private delimiter = Buffer.from(';');
  private currentUse: Buffer | undefined;
  private inSection = false;
  /** Where the statement in progress goes; undefined at a statement start. */
  private dest: SqlSession | undefined;
  /** Dropped lines (LOCK/UNLOCK TABLES) are read to their end and not written. */
  private dropping = false;
  /** The line in progress started a statement and is not classified yet. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The end of the line in progress from earlier chunks (to see where a statement ends). */
  private carry = EMPTY;
  /** The line in progress is a whole statement by itself (a comment, a client command). */
  private single = false;
  private failure: Error | undefined;
  private rr = 0;
  /** Statements sent to the other sessions. */
  spread = 0;

  constructor(
    private readonly open: (label: string) => Promise<SqlSession>,
    private readonly maxSessions: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
  }

  /** Sessions that got rows (1 when the dump had nothing to spread). */
  get sessionsUsed(): number {
    return this.spread ? this.sessions.length : 1;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.openSession().then(
      (s) => {
        this.main = s;
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.process(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.finished) {
      const err = error ?? new Error('dump load stopped');
      for (const s of this.sessions) if (!s.failed) s.abort(err);
    }
    callback(error);
  }

  private opened = 0;
  private finished = false;

  private async openSession(): Promise<SqlSession> {
    const s = await this.open(`load session ${++this.opened} of ${this.maxSessions}`);
    this.sessions.push(s);
    s.onFailure((err) => {
      this.failure ??= err;
    });
    return s;
  }

  private async finish(): Promise<void> {
    if (this.pendingBytes) await this.classifyPending(true);
    this.check();
    const results = await Promise.allSettled(this.sessions.map((s) => s.end()));
    this.check();
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    this.finished = true;
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private async process(chunk: Buffer): Promise<void> {
    this.check();
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.dest && !this.dropping) {
        // A statement starts here: collect enough of the line to know what it is.
        const nl = chunk.indexOf(NL, pos);
        const room = CLASSIFY_BYTES - this.pendingBytes;
        if (nl !== -1 && nl + 1 - pos <= room) {
          this.pushPending(chunk.subarray(pos, nl + 1));
          pos = nl + 1;
          await this.classifyPending(true);
        } else if (nl === -1 && chunk.length - pos <= room) {
          this.pushPending(chunk.subarray(pos));
          pos = chunk.length;
        } else {
          // A long line: judge it by its start and stream the rest.
          this.pushPending(chunk.subarray(pos, pos + room));
          pos += room;
          await this.classifyPending(false);
        }
        continue;
      }
      // Inside a statement (or a single line) whose destination is known: copy it through
      // to where it ends, in one write.
      let scan = pos;
      let end = chunk.length;
      let finished = false;
      for (;;) {
        const nl = chunk.indexOf(NL, scan);
        if (nl === -1) {
          this.keepCarry(chunk.subarray(scan));
          break;
        }
        const ends = this.single || this.endsWithDelimiter(chunk, scan, nl);
        this.carry = EMPTY;
        scan = nl + 1;
        if (ends) {
          end = scan;
          finished = true;
          break;
        }
      }
      if (!this.dropping) (this.dest as SqlSession).write(chunk.subarray(pos, end));
      pos = end;
      if (finished) this.statementDone();
    }
    await this.backpressure();
  }

  private pushPending(b: Buffer): void {
    if (!b.length) return;
    this.pending.push(b);
    this.pendingBytes += b.length;
  }

  /** Decides where the pending line goes; `complete` says whether it holds the whole line. */
  private async classifyPending(complete: boolean): Promise<void> {
    const line = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const kind = this.classify(line, complete);
    let dest: SqlSession | undefined;
    switch (kind) {
      case 'lock':
        this.inSection = true;
        break;
      case 'unlock':
        this.inSection = false;
        break;
      case 'insert':
        dest = await this.pickForInsert();
        break;
      case 'neutral':
        dest = this.main;
        break;
      default:
        await this.barrier();
        dest = this.main;
        if (kind === 'use') this.currentUse = Buffer.from(line);
        if (kind === 'delimiter') {
          this.delimiter = Buffer.from(DELIMITER.exec(text(line).trim())?.[1] ?? ';');
        }
        if (kind === 'header') this.keepHeader(line);
        (this.main as SqlSession).dirty = true;
    }
    // Comments, client commands and dropped lines are one line long whatever they end with.
    this.single = kind === 'neutral' || kind === 'delimiter' || kind === 'lock' || kind === 'unlock';
    this.dropping = kind === 'lock' || kind === 'unlock';
    this.dest = dest;
    if (dest) dest.write(line);
    if (!complete) {
      this.keepCarry(line);
      return;
    }
    const nl = line.length - 1;
    if (this.single || this.endsWithDelimiter(line, 0, nl)) this.statementDone();
    this.carry = EMPTY;
  }

  private statementDone(): void {
    this.dest = undefined;
    this.dropping = false;
    this.single = false;
  }

  /** The end of a line that continues in the next chunk, to find its last significant bytes. */
  private keepCarry(piece: Buffer): void {
    let i = piece.length - 1;
    while (i >= 0 && isSpace(piece[i] as number)) i--;
    if (i < 0) return;
    const take = piece.subarray(Math.max(0, i - 15), i + 1);
    this.carry = take.length >= 16 ? Buffer.from(take) : Buffer.concat([this.carry, take]).subarray(-16);
  }

  /** Whether the line `chunk[start, nl)` (after what came before it) ends with the delimiter. */
  private endsWithDelimiter(chunk: Buffer, start: number, nl: number): boolean {
    const d = this.delimiter;
    let i = nl - 1;
    while (i >= start && isSpace(chunk[i] as number)) i--;
    if (i - start + 1 >= d.length) {
      for (let k = d.length - 1; k >= 0; k--, i--) if (chunk[i] !== d[k]) return false;
      return true;
    }
    const joined = Buffer.concat([this.carry, chunk.subarray(start, i + 1)]);
    return joined.length >= d.length && joined.subarray(joined.length - d.length).equals(d);
  }

  private classify(line: Buffer, complete: boolean): Kind {
    const trimmed = text(line).trim();
    if (
      trimmed === '' ||
      /^--(\s|$)/.test(trimmed) ||
      trimmed.startsWith('#') ||
      (complete && trimmed.startsWith('/*') && trimmed.endsWith('*/') && !trimmed.startsWith('/*!'))
    ) {
      if (this.inHeader) this.keepHeader(line);
      return 'neutral';
    }
    if (complete && DELIMITER.test(trimmed)) {
      this.inHeader = false;
      return 'delimiter';
    }
    const semicolons = this.delimiter.length === 1 && this.delimiter[0] === 0x3b;
    if (this.inHeader) {
      const single = complete && trimmed.endsWith(';');
      const sessionSet = /^SET @/i.test(trimmed) && !/@@GLOBAL/i.test(trimmed);
      if (single && semicolons && (trimmed.startsWith('/*!') || sessionSet)) return 'header';
      this.inHeader = false;
    }
    if (!semicolons) return 'other';
    if (complete && USE.test(trimmed)) return 'use';
    if (complete && this.maxSessions > 1 && LOCK.test(trimmed)) return 'lock';
    if (complete && this.inSection && UNLOCK.test(trimmed)) return 'unlock';
    if (this.inSection && line.subarray(0, INSERT.length).equals(INSERT)) return 'insert';
    return 'other';
  }

  private keepHeader(line: Buffer): void {
    this.headerBytes += line.length;
    if (this.headerBytes > HEADER_LIMIT) {
      // Not a dump header as mysqldump/mariadb-dump write it: run everything in one session.
      this.inHeader = false;
      this.header.length = 0;
      return;
    }
    this.header.push(Buffer.from(line));
  }

  /** The session for one row INSERT: the one with the least waiting, once all are open. */
  private async pickForInsert(): Promise<SqlSession> {
    const main = this.main as SqlSession;
    if (this.maxSessions < 2 || !this.currentUse || !this.header.length) return main;
    if (!this.workersOpened) {
      this.workersOpened = true;
      const opened = await Promise.all(
        Array.from({ length: this.maxSessions - 1 }, () => this.openSession()),
      );
      for (const s of opened) for (const h of this.header) s.write(h);
    }
    this.check();
    const n = this.sessions.length;
    let best = this.sessions[this.rr % n] as SqlSession;
    for (let i = 1; i < n; i++) {
      const s = this.sessions[(this.rr + i) % n] as SqlSession;
      if (s.buffered < best.buffered) best = s;
    }
    this.rr = (this.rr + 1) % n;
    if (best === main) return main;
    // Its table must exist before another session inserts into it.
    if (main.dirty) await main.sync();
    if (best.db !== this.currentUse) {
      best.write(this.currentUse);
      best.db = this.currentUse;
    }
    best.dirty = true;
    this.spread++;
    return best;
  }

  /** Waits until every other session has run what it was given. */
  private async barrier(): Promise<void> {
    const dirty = this.sessions.filter((s) => s !== this.main && s.dirty);
    if (dirty.length) await Promise.all(dirty.map((s) => s.sync()));
    this.check();
  }

  private async backpressure(): Promise<void> {
    const main = this.main as SqlSession;
    if (main.full) await main.drained();
    if (this.dest?.full) await this.dest.drained();
    this.check();
  }
}

function text(b: Buffer): string {
  return b.toString('utf8');
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
