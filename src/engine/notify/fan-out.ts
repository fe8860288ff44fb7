// One notifier over several (Slack, webhooks): each gets every notice at once; none waits for or fails another.
import type { Notice, Notifier } from '../../ports/notifier.js';

interface WarnLog {
  warn(obj: object, msg: string): void;
}

/**
 * Sends each notice to every notifier in parallel and resolves when all have settled. One that
 * throws or hangs on retries (Slack answering 500) delays nobody else's delivery; its failure is
 * logged with its cause and never reaches the caller, so a notifier never fails a backup.
 */
export function fanOut(notifiers: readonly Notifier[], log: WarnLog): Notifier {
  const send = async (notice: Notice, kind: 'report' | 'alert'): Promise<void> => {
    // Through a promise, so even a notifier that throws before returning one is caught here.
    const settled = await Promise.allSettled(notifiers.map(async (n) => n[kind](notice)));
    settled.forEach((s, i) => {
      if (s.status === 'rejected')
        log.warn(
          {
            notifier: i,
            event: notice.event ?? 'notice',
            err: (s.reason as Error)?.message ?? String(s.reason),
          },
          'notifier failed',
        );
    });
  };
  return { report: (n) => send(n, 'report'), alert: (n) => send(n, 'alert') };
}
