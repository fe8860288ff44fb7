/**
 * The Socket Mode half of the fake Slack: a `ws` server that hangs off the fake's HTTP server
 * (path `/socket`) and talks the way Slack's Socket Mode backend does, as far as
 * `@slack/socket-mode` (v3, undici WebSocket) relies on it:
 * - a `hello` message right after the upgrade; the client's `start()` resolves only on it;
 * - envelopes `{envelope_id, type, payload, accepts_response_payload}` pushed by the test;
 * - acks `{envelope_id, payload}` read back from the client (the client always sends `payload`,
 *   `{}` for a bare `ack()`);
 * - pongs for the client's pings (ws answers them itself; the client drops the connection after
 *   ~4 unanswered pings) and optional server pings (once the client has seen one it expects the
 *   next within its `serverPingTimeout`, so pinging is all or nothing);
 * - `{type:'disconnect', reason}`, after which the client closes and calls
 *   apps.connections.open again.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

/** What the test pushes; `envelope_id` is generated when left out. */
export interface SocketEnvelope {
  envelope_id?: string;
  type: 'slash_commands' | 'interactive' | 'events_api';
  payload: Record<string, unknown>;
  accepts_response_payload?: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

/** An acknowledgement the client sent back for an envelope. */
export interface SocketAck {
  envelope_id: string;
  payload?: unknown;
  at: number;
}

export interface FakeSocketModeOptions {
  appId: string;
  now: () => number;
  /** Send a ping this often; off by default (see the module comment). */
  pingIntervalMs?: number;
}

/** The Socket Mode side of the fake; created by `startFakeSlack({ socketMode: true })`. */
export class FakeSocketMode {
  readonly acks: SocketAck[] = [];
  /** Every non-ack text frame the client sent, parsed when it was JSON. */
  readonly received: unknown[] = [];
  /** Connections accepted so far, counting reconnects. */
  connectionCount = 0;
  /** Pongs clients sent back for the fake's pings. */
  pongCount = 0;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly sockets = new Set<WebSocket>();
  private pinger: NodeJS.Timeout | undefined;

  constructor(
    server: Server,
    private readonly options: FakeSocketModeOptions,
  ) {
    server.on('upgrade', (req, socket, head) => {
      this.upgrade(req, socket, head);
    });
    if (options.pingIntervalMs !== undefined) {
      this.pinger = setInterval(() => {
        for (const ws of this.sockets) ws.ping(Buffer.from('ping from fake Slack'));
      }, options.pingIntervalMs);
    }
  }

  /** A fresh one-use URL, as apps.connections.open hands out (Slack puts a ticket in the query). */
  issueUrl(origin: string): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${origin.replace(/^http/, 'ws')}/socket?ticket=${ticket}&app_id=${this.options.appId}`;
  }

  get connected(): boolean {
    return [...this.sockets].some((ws) => ws.readyState === ws.OPEN);
  }

  /** Pushes an envelope to the newest open connection and returns its envelope_id. */
  send(envelope: SocketEnvelope): string {
    const ws = [...this.sockets].reverse().find((s) => s.readyState === s.OPEN);
    if (!ws) throw new Error('fake Slack: no Socket Mode client is connected');
    const envelopeId = envelope.envelope_id ?? randomUUID();
    // Slack lets slash commands and view submissions answer in the ack; the rest may not.
    const accepts =
      envelope.accepts_response_payload ??
      (envelope.type === 'slash_commands' || envelope.payload.type === 'view_submission');
    ws.send(JSON.stringify({ ...envelope, envelope_id: envelopeId, accepts_response_payload: accepts }));
    return envelopeId;
  }

  /** Tells every client to reconnect, as Slack does before recycling a pod. */
  disconnectAll(reason = 'refresh_requested'): void {
    const message = JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake' } });
    for (const ws of this.sockets) ws.send(message);
  }

  /** Drops every connection without a close frame, as a network failure would. */
  terminateAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /**
   * Waits up to `graceMs` for clients to finish closing, then drops the rest. Bolt's
   * `app.stop()` in Socket Mode resolves before its close handshake is done; cutting that
   * connection makes the client log a WebSocket error.
   */
  async close(graceMs = 250): Promise<void> {
    clearInterval(this.pinger);
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.terminateAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const ticket = url.searchParams.get('ticket') ?? '';
    // Slack's URLs work once; a client reusing one is a bug worth seeing as a failed connect.
    if (url.pathname !== '/socket' || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.accept(ws);
    });
  }

  private accept(ws: WebSocket): void {
    this.connectionCount += 1;
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('pong', () => {
      this.pongCount += 1;
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.receive(data.toString());
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.size,
        debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.options.appId },
      }),
    );
  }

  private receive(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.received.push(text);
      return;
    }
    if (typeof message === 'object' && message !== null && 'envelope_id' in message) {
      const { envelope_id, payload } = message as { envelope_id: unknown; payload?: unknown };
      const ack: SocketAck = { envelope_id: String(envelope_id), at: this.options.now() };
      if (payload !== undefined) ack.payload = payload;
      this.acks.push(ack);
      return;
    }
    this.received.push(message);
  }
}
