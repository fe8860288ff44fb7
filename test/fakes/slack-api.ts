/**
 * A loopback fake of the Slack Web API for tests that run the real Bolt app or WebClient against
 * it (`clientOptions.slackApiUrl = fake.url`). It records every call, keeps the messages the bot
 * posted, enforces Block Kit limits, injects rate limits, takes response_url posts and, with
 * `socketMode: true`, serves Socket Mode (see slack-socket.ts).
 *
 * The WebClient joins `${slackApiUrl}${method}` (adding a `/` only when missing), so `url` ends
 * in `/api/`; requests to any other path are answered 404 and still recorded, so a wrong base URL
 * shows up in `waitFor`'s failure message instead of as a silent hang.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BlockKitViolation, checkBlockKitLimits } from './block-kit-limits.js';
import { clip, decodeSlackBody, poll, readBody } from './fake-http.js';
import {
  type FailSpec,
  type FaultAnswer,
  FaultInjector,
  type RateLimitHit,
  type RateLimitSpec,
} from './slack-faults.js';
import { FakeSocketMode, type SocketAck, type SocketEnvelope } from './slack-socket.js';
import {
  type EphemeralMessage,
  type FakeChannel,
  type FakeUser,
  FakeWorkspace,
  type StoredMessage,
} from './slack-workspace.js';

export type { BlockKitViolation } from './block-kit-limits.js';
export type { FailSpec, RateLimitHit, RateLimitSpec } from './slack-faults.js';
export type { SocketAck, SocketEnvelope } from './slack-socket.js';
export type {
  EphemeralMessage,
  FakeChannel,
  FakeUser,
  MessageVersion,
  StoredMessage,
} from './slack-workspace.js';

type Json = Record<string, unknown>;

/** One request the fake received, in arrival order. */
export interface SlackCall {
  /** Web API method, or the raw path for requests outside `/api/`. */
  method: string;
  /** Decoded body: form fields, with `blocks`/`attachments`/`view`/`metadata` parsed from JSON. */
  body: Json;
  /** From `Authorization: Bearer …`, else the body's `token` field. */
  token: string | undefined;
  /** Milliseconds since the epoch (from `options.now`). */
  at: number;
  /** HTTP status the fake answered with. */
  status: number;
  /** JSON the fake answered with. */
  response: Json;
}

/** A response_url post. */
export interface ResponsePost {
  id: string;
  body: Json;
  at: number;
  status: number;
}

export interface FakeSlackOptions {
  teamId?: string;
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /** Accepted tokens; others get `invalid_auth`. By default any token is accepted. */
  tokens?: string[];
  users?: Record<string, FakeUser>;
  channels?: Record<string, FakeChannel>;
  /** User group id → member user ids, for usergroups.users.list. */
  userGroups?: Record<string, string[]>;
  /** Also serve Socket Mode: apps.connections.open and a WebSocket endpoint. */
  socketMode?: boolean;
  /** Ping Socket Mode clients this often (off by default). */
  socketPingIntervalMs?: number;
  /** Clock for `at` fields and rate windows. */
  now?: () => number;
}

/** Overrides a method's answer; return Slack's JSON (`{ok:false, error}` for an error). */
export type MethodHandler = (body: Json, call: { token: string | undefined }) => Json;

const BLOCK_METHODS = new Set([
  'chat.postMessage',
  'chat.update',
  'chat.postEphemeral',
  'chat.scheduleMessage',
  'views.open',
  'views.update',
  'views.push',
  'views.publish',
]);
/** Slack lets one response_url be used this many times. */
const RESPONSE_URL_USES = 5;

/** The running fake; create it with `startFakeSlack`. */
export class FakeSlack {
  /** Web API base URL, e.g. `http://127.0.0.1:PORT/api/` (for `slackApiUrl` / `SLACK_API_URL`). */
  readonly url: string;
  readonly origin: string;
  readonly calls: SlackCall[] = [];
  readonly violations: BlockKitViolation[] = [];
  readonly responses: ResponsePost[] = [];
  private readonly workspace: FakeWorkspace;
  private readonly socket: FakeSocketMode | undefined;
  private readonly faults: FaultInjector;
  private readonly overrides = new Map<string, MethodHandler>();
  private readonly responseLinks = new Map<string, { channel: string; ts: string; uses: number }>();
  private readonly now: () => number;
  private stopped = false;

  constructor(
    private readonly server: ReturnType<typeof createServer>,
    private readonly options: FakeSlackOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
    this.url = `${this.origin}/api/`;
    this.now = options.now ?? Date.now;
    this.faults = new FaultInjector(this.now);
    const appId = options.appId ?? 'A0FAKE';
    this.workspace = new FakeWorkspace(
      {
        teamId: options.teamId ?? 'T0FAKE',
        teamDomain: options.teamDomain ?? 'fake-workspace',
        botUserId: options.botUserId ?? 'U0FAKEBOT',
        botId: options.botId ?? 'B0FAKEBOT',
        appId,
        ...(options.users ? { users: options.users } : {}),
        ...(options.channels ? { channels: options.channels } : {}),
        ...(options.userGroups ? { userGroups: options.userGroups } : {}),
      },
      this.now,
    );
    if (options.socketMode) {
      this.socket = new FakeSocketMode(server, {
        appId,
        now: this.now,
        ...(options.socketPingIntervalMs !== undefined
          ? { pingIntervalMs: options.socketPingIntervalMs }
          : {}),
      });
    }
    server.on('request', (req, res) => {
      // Only an aborted upload gets here; the client is gone, so there is no one to answer.
      this.serve(req, res).catch(() => res.destroy());
    });
  }

  /** Calls to one method, in order. */
  callsTo(method: string): SlackCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Every message the bot posted, in posting order, in its current state. */
  get messages(): StoredMessage[] {
    return [...this.workspace.messages.values()];
  }

  /** One posted message by channel and ts. */
  message(channel: string, ts: string): StoredMessage | undefined {
    return this.workspace.message(channel, ts);
  }

  get ephemerals(): readonly EphemeralMessage[] {
    return this.workspace.ephemerals;
  }

  /** Resolves with the first recorded call matching `predicate`, polling until `timeoutMs`. */
  waitFor(predicate: (call: SlackCall) => boolean, timeoutMs = 2000): Promise<SlackCall> {
    return poll(
      () => this.calls.find(predicate),
      timeoutMs,
      () => {
        const seen = this.calls.map((call, i) => `  #${i + 1} ${summarize(call)}`);
        return `no matching Web API call; seen ${this.calls.length}:\n${seen.join('\n') || '  (none)'}`;
      },
    );
  }

  /** Resolves with the first response_url post matching `predicate` (any post by default). */
  waitForResponse(
    predicate: (post: ResponsePost) => boolean = () => true,
    timeoutMs = 2000,
  ): Promise<ResponsePost> {
    return poll(
      () => this.responses.find(predicate),
      timeoutMs,
      () => {
        const seen = this.responses.map(
          (post) => `  ${post.id} ${post.status} ${clip(JSON.stringify(post.body))}`,
        );
        return `no matching response_url post; seen ${this.responses.length}:\n${seen.join('\n') || '  (none)'}`;
      },
    );
  }

  /**
   * Makes the next `count` calls to `method` fail: HTTP 429 with `Retry-After` by default, or
   * another status, or (with `status: 200`) `{ok:false, error}`.
   */
  failNext(method: string, count: number, spec: FailSpec = {}): void {
    this.faults.failNext(method, count, spec);
  }

  /**
   * Slack down: every Web API call fails as `spec` says (e.g. `{ status: 500 }`) until
   * `failAll(undefined)`.
   */
  failAll(spec: FailSpec | undefined): void {
    this.faults.failAll(spec);
  }

  /** Answers 429 once calls to `method` (per method, channel or message) exceed `perSecond`. */
  rateLimit(method: string, spec: RateLimitSpec): void {
    this.faults.rateLimit(method, spec);
  }

  /** Every 429 sent so far, from `failNext` or `rateLimit`. */
  get rateLimited(): readonly RateLimitHit[] {
    return this.faults.rateLimited;
  }

  /** Replaces the answer of a method, built-in or not (e.g. to return `is_member: false`). */
  handle(method: string, handler: MethodHandler): void {
    this.overrides.set(method, handler);
  }

  /**
   * A response_url on this server. With `message`, posts with `replace_original` update that
   * stored message and `delete_original` deletes it, as Slack does for block_actions.
   */
  responseUrl(id: string, message?: { channel: string; ts: string }): string {
    if (message) this.responseLinks.set(id, { ...message, uses: 0 });
    return `${this.origin}/response/${encodeURIComponent(id)}`;
  }

  // Socket Mode ---------------------------------------------------------------------------------

  /** Acks Socket Mode clients sent back, in order. */
  get socketAcks(): readonly SocketAck[] {
    return this.requireSocket().acks;
  }

  /** Pushes an envelope to the connected Socket Mode client; returns its envelope_id. */
  socketSend(envelope: SocketEnvelope): string {
    return this.requireSocket().send(envelope);
  }

  /** Resolves with the client's ack for `envelopeId`. */
  waitForAck(envelopeId: string, timeoutMs = 2000): Promise<SocketAck> {
    const socket = this.requireSocket();
    return poll(
      () => socket.acks.find((ack) => ack.envelope_id === envelopeId),
      timeoutMs,
      () => {
        const seen = socket.acks.map((ack) => ack.envelope_id).join(', ') || '(none)';
        return `no ack for envelope ${envelopeId}; acks seen: ${seen}; connected: ${socket.connected}`;
      },
    );
  }

  /**
   * Resolves once the server holds an open Socket Mode connection. That is the server's view: the
   * client may still be CONNECTING, and disconnecting it then makes the SDK reject a promise no
   * one holds. Before `client.disconnect()`, await the client's `connected` event instead.
   */
  waitForSocket(timeoutMs = 2000): Promise<true> {
    const socket = this.requireSocket();
    return poll(
      () => (socket.connected ? true : undefined),
      timeoutMs,
      () => 'no Socket Mode client connected',
    );
  }

  /** Sends `{type:'disconnect', reason}`; the client closes and reconnects via apps.connections.open. */
  socketDisconnect(reason = 'refresh_requested'): void {
    this.requireSocket().disconnectAll(reason);
  }

  /** The Socket Mode side, for connection counts and raw frames. */
  get socketMode(): FakeSocketMode {
    return this.requireSocket();
  }

  /**
   * Closes every connection and the server. Disconnect Socket Mode clients first: one that loses
   * its server tries to reconnect, fails, and rejects inside the SDK.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.socket?.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private requireSocket(): FakeSocketMode {
    if (!this.socket) throw new Error('fake Slack: start it with { socketMode: true } to use Socket Mode');
    return this.socket;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const raw = await readBody(req);
    const path = url.pathname;
    if (path.startsWith('/response/') && req.method === 'POST') {
      this.serveResponseUrl(decodeURIComponent(path.slice('/response/'.length)), raw, res);
      return;
    }
    const method = path.startsWith('/api/') ? decodeURIComponent(path.slice('/api/'.length)) : path;
    const decoded = path.startsWith('/api/')
      ? decodeSlackBody(req.method === 'GET' ? url.search.slice(1) : raw, req.headers['content-type'])
      : { body: {} };
    const header = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = header ?? (typeof decoded.body.token === 'string' ? decoded.body.token : undefined);
    const answer = path.startsWith('/api/')
      ? this.answer(method, decoded.body, token, decoded.error)
      : { status: 404, body: { ok: false, error: 'not_found', hint: 'Web API methods live under /api/' } };
    this.calls.push({
      method,
      body: decoded.body,
      token,
      at: this.now(),
      status: answer.status,
      response: answer.body,
    });
    res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  }

  private answer(method: string, body: Json, token: string | undefined, decodeError?: string): FaultAnswer {
    const ok = (json: Json): FaultAnswer => ({ status: 200, body: json });
    if (decodeError) return ok({ ok: false, error: decodeError });
    const fault = this.faults.check(method, body);
    if (fault) return fault;
    const authError = this.checkAuth(method, token);
    if (authError) return ok({ ok: false, error: authError });
    if (BLOCK_METHODS.has(method)) {
      const found = checkBlockKitLimits(method, body);
      if (found.length > 0) {
        this.violations.push(...found);
        return ok({ ok: false, error: blockErrorCode(found), errors: found.map((v) => v.message) });
      }
    }
    const override = this.overrides.get(method);
    if (override) return ok(override(body, { token }));
    if (method === 'apps.connections.open' && this.socket) {
      return ok({ ok: true, url: this.socket.issueUrl(this.origin) });
    }
    return ok(this.workspace.call(method, body) ?? { ok: false, error: 'unknown_method' });
  }

  private checkAuth(method: string, token: string | undefined): string | undefined {
    if (!token) return 'not_authed';
    if (this.options.tokens && !this.options.tokens.includes(token)) return 'invalid_auth';
    const appToken = token.startsWith('xapp-');
    // Slack says not_allowed_token_type for apps.connections.open with a bot token, but the
    // socket-mode client retries that error forever; invalid_auth makes start() fail at once.
    if (method === 'apps.connections.open' && !appToken) return 'invalid_auth';
    if (method !== 'apps.connections.open' && appToken) return 'not_allowed_token_type';
    return undefined;
  }

  private serveResponseUrl(id: string, raw: string, res: ServerResponse): void {
    const link = this.responseLinks.get(id);
    const send = (status: number, text: string, body: Json): void => {
      this.responses.push({ id, body, at: this.now(), status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(text);
    };
    let body: Json;
    try {
      body = JSON.parse(raw) as Json;
    } catch {
      send(400, 'invalid_payload', { raw });
      return;
    }
    if (link && link.uses >= RESPONSE_URL_USES) {
      send(404, 'used_url', body);
      return;
    }
    const found = checkBlockKitLimits('response_url', body);
    if (found.length > 0) {
      this.violations.push(...found);
      // Slack's webhook-style URLs answer plain text with a 400, unlike the Web API.
      send(400, blockErrorCode(found), body);
      return;
    }
    if (link) {
      link.uses += 1;
      const message = this.workspace.message(link.channel, link.ts);
      if (message && isTrue(body.delete_original)) message.deleted = true;
      else if (message && isTrue(body.replace_original)) this.workspace.revise(message, body, 'response_url');
    }
    send(200, 'ok', body);
  }
}

/**
 * Starts the fake Slack Web API on 127.0.0.1 and an ephemeral port. Point the app at `fake.url`
 * (`clientOptions: { slackApiUrl: fake.url }`) and call `fake.stop()` after the test.
 */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return new FakeSlack(server, options);
}

function blockErrorCode(found: BlockKitViolation[]): string {
  if (found.some((v) => v.rule === 'blocks.json')) return 'invalid_blocks_format';
  if (found.every((v) => v.rule === 'text')) return 'msg_too_long';
  return 'invalid_blocks';
}

const isTrue = (value: unknown): boolean => value === true || value === 'true';

function summarize(call: SlackCall): string {
  const error = call.response.ok === false ? ` ${String(call.response.error)}` : '';
  return `${call.method} → ${call.status}${error} ${clip(JSON.stringify(call.body))}`;
}
