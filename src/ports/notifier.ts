/**
 * What a notice is about, for receivers that route by it (webhooks, see README "Notifications
 * that do not depend on Slack"). `notice` is anything else drbot tells people.
 */
export const NOTICE_EVENTS = [
  'backup-succeeded',
  'backup-failed',
  'verify-failed',
  'drill-succeeded',
  'drill-failed',
  'digest',
  'rpo-breach',
  'rpo-recovered',
  'restore',
  'startup',
  'shutdown',
  'notice',
] as const;
export type NoticeEvent = (typeof NOTICE_EVENTS)[number];

/** A message for people: a one-line summary and the lines under it. */
export interface Notice {
  title: string;
  lines: string[];
  level: 'info' | 'warn' | 'error';
  /** What it is about; unset reads as `notice`. */
  event?: NoticeEvent;
  /** The run it reports on, when there is one. */
  runId?: string;
  /** The assets it concerns, when it names some. */
  assets?: string[];
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
