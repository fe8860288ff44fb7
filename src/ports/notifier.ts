/** A message for people: a one-line summary and the lines under it. */
export interface Notice {
  title: string;
  lines: string[];
  level: 'info' | 'warn' | 'error';
}

/**
 * Where drbot tells people things without being asked: backup reports, RPO breaches and their
 * recovery, failures. Slack posts them to the reports and alerts channels; without Slack they
 * go to the log.
 */
export interface Notifier {
  report(notice: Notice): Promise<void>;
  alert(notice: Notice): Promise<void>;
}

export function logNotifier(log: {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}): Notifier {
  return {
    report: async (n) => log.info({ lines: n.lines }, n.title),
    alert: async (n) =>
      n.level === 'error' ? log.error({ lines: n.lines }, n.title) : log.warn({ lines: n.lines }, n.title),
  };
}
