import { App, type Logger, LogLevel } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../../fakes/slack-api.js';
import { slashCommandPayload } from '../../fakes/slack-signing.js';

const APP_TOKEN = 'xapp-1-test';

/** Swallows the SDK's own error lines for failures a test provokes on purpose. */
const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

let fake: FakeSlack;
const clients: SocketModeClient[] = [];

/**
 * A real SocketModeClient aimed at the fake. A short clientPingTimeout keeps the reconnect delay
 * (clientPingTimeout × consecutive failures) small; it also pings every third of it.
 */
function socketClient(): SocketModeClient {
  const client = new SocketModeClient({
    appToken: APP_TOKEN,
    logLevel: LogLevel.ERROR,
    clientPingTimeout: 300,
    clientOptions: { slackApiUrl: fake.url },
  });
  clients.push(client);
  return client;
}

beforeEach(async () => {
  fake = await startFakeSlack({ socketMode: true });
});

afterEach(async () => {
  // Clients first: a client whose server vanishes retries and rejects inside the SDK.
  await Promise.all(clients.splice(0).map((client) => client.disconnect()));
  await fake.stop();
});

describe('fake Slack Socket Mode with the real SocketModeClient', () => {
  it('connects through apps.connections.open with the app token and gets hello', async () => {
    const client = socketClient();

    await client.start();

    expect(fake.callsTo('apps.connections.open')).toMatchObject([{ token: APP_TOKEN, status: 200 }]);
    expect(fake.callsTo('apps.connections.open')[0]?.response.url).toMatch(
      /^ws:\/\/127\.0\.0\.1:\d+\/socket\?ticket=/,
    );
    expect(fake.socketMode.connectionCount).toBe(1);
  });

  it('delivers a slash_commands envelope and records the ack with its payload', async () => {
    const client = socketClient();
    client.on('slash_commands', async ({ ack, body }) => {
      await ack({ text: `got ${body.text}` });
    });
    await client.start();

    const envelopeId = fake.socketSend({
      type: 'slash_commands',
      payload: slashCommandPayload({
        text: 'status',
        user_id: 'U1',
        channel_id: 'C1',
        response_url: 'http://x/r',
      }),
    });
    const ack = await fake.waitForAck(envelopeId);

    expect(ack.payload).toEqual({ text: 'got status' });
    expect(fake.socketAcks).toHaveLength(1);
  });

  it('reconnects with a fresh URL after a disconnect message', async () => {
    const client = socketClient();
    await client.start();
    // The client's own event, not the server's view: disconnecting a client whose reconnect is
    // still CONNECTING makes the SDK reject a promise nobody holds.
    const reconnected = new Promise((resolve) => client.once('connected', resolve));

    fake.socketDisconnect('refresh_requested');
    await reconnected;

    expect(fake.socketMode.connectionCount).toBe(2);
    const urls = fake.callsTo('apps.connections.open').map((call) => call.response.url);
    expect(new Set(urls).size).toBe(2);
  });

  it('pings when asked and the client answers with pongs', async () => {
    await fake.stop();
    fake = await startFakeSlack({ socketMode: true, socketPingIntervalMs: 20 });
    const client = socketClient();
    await client.start();

    await new Promise((resolve) => setTimeout(resolve, 150));

    expect(fake.socketMode.pongCount).toBeGreaterThan(0);
    expect(fake.socketMode.connectionCount).toBe(1);
  });

  it('refuses a bot token on apps.connections.open so start() fails at once', async () => {
    const client = new SocketModeClient({
      appToken: 'xoxb-not-an-app-token',
      logger: quiet,
      clientOptions: { slackApiUrl: fake.url },
    });

    const start = client.start();

    await expect(start).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
  });
});

describe('a real Bolt app in Socket Mode against the fake', () => {
  it('acks a pushed slash command through its listener and calls the Web API', async () => {
    const app = new App({
      token: 'xoxb-test',
      appToken: APP_TOKEN,
      socketMode: true,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.url },
    });
    app.command('/dr', async ({ ack, command, client }) => {
      await ack({ response_type: 'ephemeral', text: `on it: ${command.text}` });
      await client.chat.postMessage({ channel: command.channel_id, text: 'backup started' });
    });
    await app.start();

    const envelopeId = fake.socketSend({
      type: 'slash_commands',
      payload: slashCommandPayload({
        text: 'backup all',
        user_id: 'U1',
        channel_id: 'C1',
        response_url: 'http://x/r',
      }),
    });
    const ack = await fake.waitForAck(envelopeId);
    await fake.waitFor((call) => call.method === 'chat.postMessage');
    // Resolves before the close handshake ends; fake.stop() in afterEach waits for it.
    await app.stop();

    expect(ack.payload).toEqual({ response_type: 'ephemeral', text: 'on it: backup all' });
    expect(fake.messages).toMatchObject([{ channel: 'C1', text: 'backup started' }]);
  });
});
