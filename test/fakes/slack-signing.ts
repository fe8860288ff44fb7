/**
 * Requests exactly as Slack sends them to an app's `POST /slack/events`: signed headers,
 * slash-command and block_actions bodies, and a fetch wrapper for posting them (signed, unsigned,
 * stale or as a retry). The `*Payload` builders give the same objects unencoded, which is what a
 * Socket Mode envelope carries.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Headers Slack puts on every request to an app. */
export interface SlackRequestHeaders {
  'Content-Type': string;
  'X-Slack-Request-Timestamp': string;
  'X-Slack-Signature': string;
}

/** Seconds since the epoch, optionally shifted: `slackTimestamp(-360)` is six minutes old. */
export function slackTimestamp(offsetSeconds = 0): number {
  return Math.floor(Date.now() / 1000) + offsetSeconds;
}

/**
 * Signs `rawBody` as Slack does: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` keyed with the
 * signing secret. The content type follows the body: JSON for Events API bodies, form otherwise.
 */
export function signRequest(
  signingSecret: string,
  rawBody: string,
  timestampSeconds: number = slackTimestamp(),
): SlackRequestHeaders {
  const digest = createHmac('sha256', signingSecret)
    .update(`v0:${timestampSeconds}:${rawBody}`)
    .digest('hex');
  return {
    'Content-Type': rawBody.trimStart().startsWith('{')
      ? 'application/json'
      : 'application/x-www-form-urlencoded',
    'X-Slack-Request-Timestamp': String(timestampSeconds),
    'X-Slack-Signature': `v0=${digest}`,
  };
}

/** Workspace and app identity the builders use unless told otherwise. */
export const FAKE_TEAM = {
  teamId: 'T0FAKE',
  teamDomain: 'fake-workspace',
  appId: 'A0FAKE',
  verificationToken: 'fake-verification-token',
} as const;

/** A trigger_id shaped like Slack's (`<digits>.<digits>.<hex>`). */
export function fakeTriggerId(): string {
  return `${Date.now()}.${Math.floor(Math.random() * 1e9)}.${randomBytes(16).toString('hex')}`;
}

export interface SlashCommandFields {
  command?: string;
  text: string;
  user_id: string;
  user_name?: string;
  channel_id: string;
  channel_name?: string;
  team_id?: string;
  response_url: string;
  trigger_id?: string;
}

/** The fields of a slash command invocation, in Slack's order, all strings as on the wire. */
export function slashCommandPayload(fields: SlashCommandFields): Record<string, string> {
  const teamId = fields.team_id ?? FAKE_TEAM.teamId;
  return {
    token: FAKE_TEAM.verificationToken,
    team_id: teamId,
    team_domain: FAKE_TEAM.teamDomain,
    channel_id: fields.channel_id,
    channel_name: fields.channel_name ?? `channel-${fields.channel_id.toLowerCase()}`,
    user_id: fields.user_id,
    user_name: fields.user_name ?? `user-${fields.user_id.toLowerCase()}`,
    command: fields.command ?? '/dr',
    text: fields.text,
    api_app_id: FAKE_TEAM.appId,
    is_enterprise_install: 'false',
    response_url: fields.response_url,
    trigger_id: fields.trigger_id ?? fakeTriggerId(),
  };
}

/** A slash command as the form-encoded body Slack posts (spaces as `+`, like Slack). */
export function slashCommandBody(fields: SlashCommandFields): string {
  return new URLSearchParams(slashCommandPayload(fields)).toString();
}

export interface BlockActionFields {
  user_id: string;
  user_name?: string;
  channel_id: string;
  channel_name?: string;
  message_ts: string;
  action_id: string;
  value: string;
  block_id?: string;
  response_url: string;
  trigger_id?: string;
  /** The message the button sits on; Slack sends its text and blocks back. */
  message?: { text?: string; blocks?: unknown[] };
}

/** A `block_actions` interaction for one button click, as the object Slack sends. */
export function blockActionsPayload(fields: BlockActionFields): Record<string, unknown> {
  const userName = fields.user_name ?? `user-${fields.user_id.toLowerCase()}`;
  const actionTs = (Date.now() / 1000).toFixed(6);
  return {
    type: 'block_actions',
    user: { id: fields.user_id, username: userName, name: userName, team_id: FAKE_TEAM.teamId },
    api_app_id: FAKE_TEAM.appId,
    token: FAKE_TEAM.verificationToken,
    container: {
      type: 'message',
      message_ts: fields.message_ts,
      channel_id: fields.channel_id,
      is_ephemeral: false,
    },
    trigger_id: fields.trigger_id ?? fakeTriggerId(),
    team: { id: FAKE_TEAM.teamId, domain: FAKE_TEAM.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: {
      id: fields.channel_id,
      name: fields.channel_name ?? `channel-${fields.channel_id.toLowerCase()}`,
    },
    message: {
      type: 'message',
      ts: fields.message_ts,
      text: fields.message?.text ?? '',
      blocks: fields.message?.blocks ?? [],
    },
    state: { values: {} },
    response_url: fields.response_url,
    actions: [
      {
        action_id: fields.action_id,
        block_id: fields.block_id ?? `block-${fields.action_id}`,
        value: fields.value,
        type: 'button',
        action_ts: actionTs,
      },
    ],
  };
}

/** A `block_actions` interaction as Slack posts it: form-encoded `payload=<JSON>`. */
export function blockActionsBody(fields: BlockActionFields): string {
  return new URLSearchParams({ payload: JSON.stringify(blockActionsPayload(fields)) }).toString();
}

export interface PostToAppOptions {
  /** Signing secret; ignored when `unsigned`. */
  secret: string;
  /** Request timestamp in seconds; pass `slackTimestamp(-360)` for a stale request. */
  timestamp?: number;
  /** Send no signature headers at all. */
  unsigned?: boolean;
  /** Slack's retry headers, as on a redelivered event. */
  retryNum?: number;
  retryReason?: 'http_timeout' | 'http_error' | 'too_many_requests' | 'unknown_error';
  /** Extra or overriding headers. */
  headers?: Record<string, string>;
}

export interface AppResponse {
  status: number;
  text: string;
  /** Time until the whole response body arrived; Slack gives up after 3000 ms. */
  ms: number;
}

/**
 * POSTs `body` to `baseUrl` + `path` (e.g. `/slack/events`) as Slack would and returns the
 * status, response text and latency.
 */
export async function postToApp(
  baseUrl: string,
  path: string,
  body: string,
  options: PostToAppOptions,
): Promise<AppResponse> {
  const signed = signRequest(options.secret, body, options.timestamp);
  const headers: Record<string, string> = options.unsigned
    ? { 'Content-Type': signed['Content-Type'] }
    : { ...signed };
  headers['User-Agent'] = 'Slackbot 1.0 (+https://api.slack.com/robots)';
  if (options.retryNum !== undefined) headers['X-Slack-Retry-Num'] = String(options.retryNum);
  if (options.retryReason !== undefined) headers['X-Slack-Retry-Reason'] = options.retryReason;
  Object.assign(headers, options.headers);
  const url = `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, text, ms: Math.round(performance.now() - started) };
}
