// Slack's side of the scale benchmark: a loopback fake of the Web API and response_url (after test/fakes/slack-api.ts), and /dr commands signed and sent as Slack sends them (after test/fakes/slack-signing.ts).
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

export const SIGNING_SECRET = 'bench-signing-secret-3c1f0a';
export const BOT_TOKEN = 'xoxb-bench-bot-token';
const TEAM = { id: 'T0FAKE', domain: 'fake-workspace', appId: 'A0FAKE', botUser: 'U0FAKEBOT', bot: 'B0FAKEBOT' };

/** What the fake answers to the Web API methods the app calls; anything else gets `{ok: true}`. */
function answer(method, body) {
  switch (method) {
    case 'auth.test':
      return {
        ok: true,
        url: `https://${TEAM.domain}.slack.com/`,
        team: TEAM.domain,
        user: 'drbot',
        team_id: TEAM.id,
        user_id: TEAM.botUser,
        bot_id: TEAM.bot,
        is_enterprise_install: false,
      };
    case 'chat.postMessage':
    case 'chat.update':
      return { ok: true, channel: body.channel ?? 'C0OPS', ts: (Date.now() / 1000).toFixed(6), message: {} };
    default:
      return { ok: true };
  }
}

const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

/**
 * The fake on 127.0.0.1: `url` is the Web API base (SLACK_API_URL); `responseUrl(id)` a
 * response_url whose posts are kept in `responses` with the time they arrived.
 */
export async function startFakeSlack() {
  const responses = [];
  const calls = [];
  const waiters = new Set();
  const server = createServer((req, res) => {
    readBody(req).then((raw) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname.startsWith('/response/')) {
        let body;
        try {
          body = JSON.parse(raw);
        } catch {
          body = { raw };
        }
        responses.push({ id: decodeURIComponent(url.pathname.slice(10)), at: performance.now(), body });
        for (const w of waiters) w();
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const method = url.pathname.startsWith('/api/') ? url.pathname.slice(5) : url.pathname;
      const body = Object.fromEntries(new URLSearchParams(raw));
      calls.push({ method, at: performance.now() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(method, body)));
    }, () => res.destroy());
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    url: `${origin}/api/`,
    responses,
    calls,
    responseUrl: (id) => `${origin}/response/${encodeURIComponent(id)}`,
    /** Resolves once every id has a response_url post, or after `timeoutMs` with those that do. */
    waitForResponses(ids, timeoutMs) {
      const got = () => new Set(responses.filter((r) => ids.includes(r.id)).map((r) => r.id));
      return new Promise((resolve) => {
        const check = () => {
          if (got().size < ids.length) return;
          done();
        };
        const timer = setTimeout(() => done(), timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(responses.filter((r) => ids.includes(r.id)));
        };
        waiters.add(check);
        check();
      });
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`. */
export function signRequest(secret, rawBody, timestampSeconds = Math.floor(Date.now() / 1000)) {
  const digest = createHmac('sha256', secret).update(`v0:${timestampSeconds}:${rawBody}`).digest('hex');
  return {
    'Content-Type': 'application/x-www-form-urlencoded',
    'X-Slack-Request-Timestamp': String(timestampSeconds),
    'X-Slack-Signature': `v0=${digest}`,
  };
}

/** A slash command as the form-encoded body Slack posts. */
export function slashCommandBody({ text, userId, channelId, responseUrl }) {
  return new URLSearchParams({
    token: 'fake-verification-token',
    team_id: TEAM.id,
    team_domain: TEAM.domain,
    channel_id: channelId,
    channel_name: `channel-${channelId.toLowerCase()}`,
    user_id: userId,
    user_name: `user-${userId.toLowerCase()}`,
    command: '/dr',
    text,
    api_app_id: TEAM.appId,
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: `${Date.now()}.${Math.floor(Math.random() * 1e9)}.${randomBytes(16).toString('hex')}`,
  }).toString();
}

let burstNo = 0;

/**
 * `count` signed `/dr <text>` sent at once, each from its own user. Per request: time until its
 * HTTP answer is complete (the ack) and until its response_url post arrives (the answer).
 */
export async function burst(fake, appBase, { count, text = 'status', timeoutMs = 60_000 }) {
  const b = ++burstNo;
  const ids = Array.from({ length: count }, (_, i) => `b${b}-${i + 1}`);
  const sent = new Map();
  const acks = await Promise.all(
    ids.map(async (id, i) => {
      const body = slashCommandBody({
        text,
        userId: `U0USER${String(i + 1).padStart(3, '0')}`,
        channelId: 'C0OPS',
        responseUrl: fake.responseUrl(id),
      });
      const headers = {
        ...signRequest(SIGNING_SECRET, body),
        'User-Agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      };
      const t0 = performance.now();
      sent.set(id, t0);
      try {
        const res = await fetch(`${appBase}/slack/events`, { method: 'POST', headers, body });
        await res.text();
        return { id, status: res.status, ackMs: performance.now() - t0 };
      } catch (err) {
        return { id, status: 0, ackMs: performance.now() - t0, error: err.message };
      }
    }),
  );
  const posts = await fake.waitForResponses(ids, timeoutMs);
  const answered = new Map(posts.map((p) => [p.id, p]));
  return acks.map((a) => {
    const post = answered.get(a.id);
    const textOf = post ? String(post.body.text ?? '') : '';
    return {
      ...a,
      answered: Boolean(post),
      answerMs: post ? post.at - (sent.get(a.id) ?? 0) : undefined,
      // A status answer names the assets; an error answer would not.
      answerOk: Boolean(post) && /bench-db/.test(JSON.stringify(post.body)),
      answerPreview: textOf.slice(0, 120),
    };
  });
}
