/**
 * The state behind the fake Slack Web API: one workspace with a bot, its posted messages and
 * ephemerals, and the directory (users, channels, user groups) tests configure. The HTTP side
 * (slack-api.ts) decodes requests and hands `(method, body)` here.
 */

type Json = Record<string, unknown>;

/** One version of a message, as posted or as updated afterwards. */
export interface MessageVersion {
  at: number;
  source: 'chat.postMessage' | 'chat.update' | 'response_url';
  text: string | undefined;
  blocks: unknown[] | undefined;
  attachments: unknown[] | undefined;
}

/** A message the bot posted, in its current state, with every version in `history`. */
export interface StoredMessage {
  channel: string;
  ts: string;
  threadTs: string | undefined;
  text: string | undefined;
  blocks: unknown[] | undefined;
  attachments: unknown[] | undefined;
  deleted: boolean;
  /** First entry is the original post; one more per chat.update or replacing response_url post. */
  history: MessageVersion[];
}

/** A chat.postEphemeral the bot sent. */
export interface EphemeralMessage {
  channel: string;
  user: string;
  messageTs: string;
  threadTs: string | undefined;
  text: string | undefined;
  blocks: unknown[] | undefined;
  at: number;
}

export interface FakeUser {
  name?: string;
  real_name?: string;
  is_admin?: boolean;
  is_bot?: boolean;
  deleted?: boolean;
  tz?: string;
  email?: string;
}

export interface FakeChannel {
  name?: string;
  is_private?: boolean;
  is_im?: boolean;
  is_member?: boolean;
  is_archived?: boolean;
}

export interface WorkspaceOptions {
  teamId: string;
  teamDomain: string;
  botUserId: string;
  botId: string;
  appId: string;
  /** Known users; when given, users.info answers `user_not_found` for anyone else. */
  users?: Record<string, FakeUser>;
  /** Known channels; when given, conversations.info answers `channel_not_found` for others. */
  channels?: Record<string, FakeChannel>;
  /** User group id → member user ids, for usergroups.users.list. */
  userGroups?: Record<string, string[]>;
}

/** First ts handed out: Slack's ts is "<unix seconds>.<6-digit sequence>". */
const TS_BASE_SECONDS = 1_700_000_000;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const arr = (value: unknown): unknown[] | undefined => (Array.isArray(value) ? value : undefined);
const fail = (error: string): Json => ({ ok: false, error });

/** Slack's state for one fake workspace; `call` answers a Web API method. */
export class FakeWorkspace {
  readonly messages = new Map<string, StoredMessage>();
  readonly ephemerals: EphemeralMessage[] = [];
  private tsSeq = 0;
  private viewSeq = 0;

  constructor(
    readonly options: WorkspaceOptions,
    private readonly now: () => number,
  ) {}

  /** A unique, increasing ts: 1700000000.000100, 1700000000.000200, … */
  nextTs(): string {
    this.tsSeq += 1;
    const micros = this.tsSeq * 100;
    const seconds = TS_BASE_SECONDS + Math.floor(micros / 1_000_000);
    return `${seconds}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.get(`${channel}:${ts}`);
  }

  /** Applies a new version to a stored message; fields absent from `body` keep their value. */
  revise(message: StoredMessage, body: Json, source: MessageVersion['source']): void {
    if ('text' in body) message.text = str(body.text);
    if ('blocks' in body) message.blocks = arr(body.blocks);
    if ('attachments' in body) message.attachments = arr(body.attachments);
    message.history.push({
      at: this.now(),
      source,
      text: message.text,
      blocks: message.blocks,
      attachments: message.attachments,
    });
  }

  /** Answers a Web API method; undefined when the fake does not implement it. */
  call(method: string, body: Json): Json | undefined {
    const handler = this.handlers[method];
    return handler ? handler(body) : undefined;
  }

  private readonly handlers: Record<string, (body: Json) => Json> = {
    'auth.test': () => ({
      ok: true,
      url: `https://${this.options.teamDomain}.slack.com/`,
      team: 'Fake Team',
      user: 'drbot',
      team_id: this.options.teamId,
      user_id: this.options.botUserId,
      bot_id: this.options.botId,
      is_enterprise_install: false,
    }),
    'chat.postMessage': (body) => {
      const channel = str(body.channel);
      if (!channel) return fail('channel_not_found');
      if (body.text === undefined && body.blocks === undefined && body.attachments === undefined) {
        return fail('no_text');
      }
      const ts = this.nextTs();
      const message: StoredMessage = {
        channel,
        ts,
        threadTs: str(body.thread_ts),
        text: undefined,
        blocks: undefined,
        attachments: undefined,
        deleted: false,
        history: [],
      };
      this.revise(message, body, 'chat.postMessage');
      this.messages.set(`${channel}:${ts}`, message);
      return { ok: true, channel, ts, message: this.render(message) };
    },
    'chat.update': (body) => {
      const message = this.message(str(body.channel) ?? '', str(body.ts) ?? '');
      if (!message || message.deleted) return fail('message_not_found');
      this.revise(message, body, 'chat.update');
      return {
        ok: true,
        channel: message.channel,
        ts: message.ts,
        text: message.text ?? '',
        message: this.render(message),
      };
    },
    'chat.postEphemeral': (body) => {
      const channel = str(body.channel);
      const user = str(body.user);
      if (!channel) return fail('channel_not_found');
      if (!user) return fail('user_not_found');
      const messageTs = this.nextTs();
      this.ephemerals.push({
        channel,
        user,
        messageTs,
        threadTs: str(body.thread_ts),
        text: str(body.text),
        blocks: arr(body.blocks),
        at: this.now(),
      });
      return { ok: true, message_ts: messageTs };
    },
    'chat.getPermalink': (body) => {
      const channel = str(body.channel);
      const ts = str(body.message_ts);
      if (!channel) return fail('channel_not_found');
      if (!ts) return fail('message_not_found');
      const permalink = `https://${this.options.teamDomain}.slack.com/archives/${channel}/p${ts.replace('.', '')}`;
      return { ok: true, channel, permalink };
    },
    'conversations.info': (body) => {
      const id = str(body.channel) ?? '';
      const known = this.options.channels?.[id];
      if (!id || (this.options.channels && !known)) return fail('channel_not_found');
      const channel = { name: `channel-${id.toLowerCase()}`, is_private: false, is_member: true, ...known };
      return {
        ok: true,
        channel: { id, is_channel: !channel.is_private, is_group: false, is_archived: false, ...channel },
      };
    },
    'users.info': (body) => {
      const id = str(body.user) ?? '';
      const known = this.options.users?.[id];
      if (!id || (this.options.users && !known)) return fail('user_not_found');
      const { email, ...user } = { name: `user-${id.toLowerCase()}`, ...known };
      const realName = user.real_name ?? user.name;
      return {
        ok: true,
        user: {
          id,
          team_id: this.options.teamId,
          is_admin: false,
          is_bot: false,
          deleted: false,
          tz: 'Europe/Berlin',
          ...user,
          real_name: realName,
          profile: { display_name: user.name, real_name: realName, ...(email ? { email } : {}) },
        },
      };
    },
    'usergroups.users.list': (body) => {
      const users = this.options.userGroups?.[str(body.usergroup) ?? ''];
      return users ? { ok: true, users: [...users] } : fail('no_such_subteam');
    },
    'views.open': (body) => {
      if (!str(body.trigger_id)) return fail('invalid_arguments');
      if (typeof body.view !== 'object' || body.view === null) return fail('invalid_arguments');
      this.viewSeq += 1;
      const id = `V0FAKE${this.viewSeq}`;
      return {
        ok: true,
        view: {
          id,
          team_id: this.options.teamId,
          app_id: this.options.appId,
          hash: `hash-${id}`,
          ...body.view,
        },
      };
    },
  };

  private render(message: StoredMessage): Json {
    return {
      type: 'message',
      user: this.options.botUserId,
      bot_id: this.options.botId,
      ts: message.ts,
      text: message.text ?? '',
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(message.attachments ? { attachments: message.attachments } : {}),
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
    };
  }
}
