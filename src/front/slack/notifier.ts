// The notifier port in Slack: reports and alerts posted to their channels.
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { Notice, Notifier } from '../../ports/notifier.js';
import { scrub } from '../../secrets.js';
import { capBlocks, clip, context, section } from './blocks.js';
import type { SlackPoster } from './slack-client.js';

/** Reports to `slack.reportsChannel`, alerts to `slack.alertsChannel`; the log when one is not set. */
export function slackNotifier(poster: SlackPoster, config: Config, log: Logger): Notifier {
  const send = async (channel: string | undefined, n: Notice) => {
    if (!channel) {
      (n.level === 'error' ? log.error.bind(log) : log.info.bind(log))({ lines: n.lines }, n.title);
      return;
    }
    const blocks = capBlocks(
      [
        section(scrub(`*${n.title}*`)),
        ...(n.lines.length
          ? [section(scrub(n.lines.map((l) => `• ${l}`).join('\n')), '(more in `/dr runs`)')]
          : []),
        context(['drbot']),
      ],
      '`/dr runs`',
    );
    await poster
      .post(channel, clip(scrub(n.title), 3000), blocks)
      .catch((err: Error) => log.warn({ err: err.message }, 'notice not posted'));
  };
  return {
    report: (n) => send(config.slack.reportsChannel, n),
    alert: (n) => send(config.slack.alertsChannel, n),
  };
}
