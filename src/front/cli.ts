// The one-shot CLI: `drbot <subcommand> …` for cron, scripts and break-glass recovery.
import { userInfo } from 'node:os';
import { buildNotifications } from '../adapters/webhook/notifications.js';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { fanOut } from '../engine/notify/fan-out.js';
import { runNotice } from '../engine/notify/run-notice.js';
import { combineObservers, type RunObserver } from '../engine/runs/run-context.js';
import { describeError, toAppError } from '../errors.js';
import { createLogger } from '../log.js';
import { systemClock } from '../ports/clock.js';
import type { Notifier } from '../ports/notifier.js';
import { registerEnvironmentSecrets } from '../secrets.js';
import { CliProgress, type ProgressOutput } from './cli-progress.js';
import { dispatch, helpReply, type Reply } from './dispatch.js';
import { prepareEngine } from './startup.js';
import { noticeText, onStopSignals, signalExitCode } from './stop-signals.js';

/** Options of the drbot command itself, taken out before the subcommand's arguments are parsed. */
const CLI_OPTIONS = new Set(['--json', '--quiet', '-q']);

const CLI_HELP = [
  'Options of the drbot command:',
  '  --json       the answer as JSON on stdout (stage lines stay on stderr)',
  '  --quiet, -q  no stage or progress lines on stderr: only the answer',
  '  --help, -h   this list; drbot help <command> (or drbot <command> --help) for one command',
  'Exit code: 0 done, 1 a run or a dependency failed, 2 refused (nothing started).',
].join('\n');

/**
 * `drbot <subcommand> …`: one command, then exit — for cron, scripts and break-glass recovery.
 * The answer goes to stdout (`--json` for machines); while a run works, its stages (and on a
 * terminal its transfers) go to stderr unless `--quiet`, and so do logs. Exit code: 0 done,
 * 1 failed, 2 refused (bad input; nothing started).
 */
export async function runCli(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const quiet = argv.includes('--quiet') || argv.includes('-q');
  const words = argv.filter((a) => !CLI_OPTIONS.has(a));
  // Help needs neither a config nor Docker: it answers even where neither works yet.
  const help = helpReply(words, CLI_HELP);
  if (help) return answer(help, json);
  registerEnvironmentSecrets(process.env);
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  let app: ReturnType<typeof buildApp>;
  let webhooks: Notifier | undefined;
  try {
    const config = loadConfig();
    app = buildApp(config, log);
    const engine = app.engine;
    // A backup run from cron fails where nobody watches a terminal: webhooks hear of it too.
    const built = buildNotifications(config, process.env, {
      clock: systemClock,
      log,
      inventory: () => engine.inventory(),
    });
    if (built.webhooks.length) webhooks = fanOut(built.webhooks, log);
  } catch (err) {
    process.stderr.write(`drbot: ${describeError(toAppError(err))}\n`);
    return 2;
  }
  try {
    if (words[0] !== 'help' && words[0] !== undefined) {
      for (const n of await prepareEngine(app.engine, 'cli'))
        process.stderr.write(`drbot: ${n.title}${n.lines.map((l) => `\n  ${l}`).join('')}\n`);
    }
    const progress = quiet ? undefined : new CliProgress(stderrOutput());
    // SIGTERM/SIGINT no longer kill a restore halfway: it may finish, and is answered as usual.
    const signals = onStopSignals(app.engine, {
      notify: (n) => {
        process.stderr.write(noticeText(n));
      },
    });
    let reply: Reply;
    let runId: string | undefined;
    const learn: RunObserver = {
      onRunCreated: (run) => {
        runId ??= run.id;
      },
    };
    try {
      const work = dispatch(words, {
        engine: app.engine,
        requester: `cli:${safeUser()}`,
        log,
        observer: combineObservers(progress, learn),
      });
      const first = await Promise.race([
        work.then((r) => ({ reply: r, stop: undefined })),
        signals.stopped.then((s) => ({ reply: undefined, stop: s })),
      ]);
      if (first.reply) reply = first.reply;
      else {
        const { report, signal } = first.stop;
        // A restore that finished while drbot waited gets its answer; anything else was cut off.
        if (report.abandoned.length || report.cutOff.length || !report.finished.length)
          return report.abandoned.length ? 1 : signalExitCode(signal);
        reply = await work;
      }
    } finally {
      signals.dispose();
      progress?.close();
    }
    const run = runId ? app.engine.findRun(runId) : undefined;
    const notice = run && webhooks ? runNotice(run, reply.text) : undefined;
    const code = answer(reply, json);
    // After the answer is out: delivery may retry for a while; its failures are only logged.
    if (notice) await webhooks?.[notice.level === 'info' ? 'report' : 'alert'](notice);
    return code;
  } finally {
    app.close();
  }
}

function answer(reply: Reply, json: boolean): 0 | 1 | 2 {
  if (json)
    process.stdout.write(
      `${JSON.stringify({ ok: reply.ok, text: reply.text, data: reply.data }, null, 2)}\n`,
    );
  else (reply.diagnostic ? process.stderr : process.stdout).write(`${reply.text}\n`);
  return reply.exitCode;
}

/** stderr as the progress display sees it: a terminal only if it can move the cursor. */
function stderrOutput(): ProgressOutput {
  const err = process.stderr;
  return {
    write: (text) => err.write(text),
    isTTY: Boolean(err.isTTY) && process.env.TERM !== 'dumb',
    get columns() {
      return err.columns;
    },
  };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
