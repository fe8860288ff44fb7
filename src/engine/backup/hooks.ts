// Backup hooks: commands from container labels run before, after, on error and finally around an asset's backup.
import type { Asset } from '../../domain/assets.js';
import { formatSpan, parseSpan } from '../../domain/duration.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import type { ContainerInfo } from '../../ports/container-runtime.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';

/** The hook labels, in the order a backup meets them. */
export const HOOK_LABELS = {
  pre: 'drbot.hooks.pre',
  post: 'drbot.hooks.post',
  error: 'drbot.hooks.error',
  finally: 'drbot.hooks.finally',
} as const;
/** How long one hook may take (a span such as 30s or 5m); default HOOK_TIMEOUT_MS. */
export const HOOK_TIMEOUT_LABEL = 'drbot.hooks.timeout';
export const HOOK_TIMEOUT_MS = 5 * 60_000;
/** How much of a hook's output goes on the run's timeline. */
const OUTPUT_SHOWN = 2000;

type HookPhase = keyof typeof HOOK_LABELS;

interface Hook {
  container: string;
  phase: HookPhase;
  argv: string[];
  timeoutMs: number;
}

/**
 * The hooks of the containers an asset's backup concerns (those that mount the volume; the
 * database's own container), by container name. A label that is not a JSON array of strings,
 * or a timeout that is not a span, is a problem named with its container, label and value.
 */
export function hooksFor(asset: Asset, containers: ContainerInfo[]): { hooks: Hook[]; problems: string[] } {
  const concerned = containers
    .filter((c) =>
      asset.kind === 'volume' ? c.mounts.some((m) => m.volume === asset.volume) : c.name === asset.container,
    )
    .sort((a, b) => a.name.localeCompare(b.name));
  const hooks: Hook[] = [];
  const problems: string[] = [];
  for (const c of concerned) {
    const timeoutText = c.labels[HOOK_TIMEOUT_LABEL];
    const timeoutMs = timeoutText === undefined ? HOOK_TIMEOUT_MS : parseSpan(timeoutText);
    if (timeoutMs === undefined) {
      problems.push(
        `container ${c.name}: label ${HOOK_TIMEOUT_LABEL}=${JSON.stringify(timeoutText)} is not a span (e.g. 30s, 5m)`,
      );
      continue;
    }
    for (const phase of Object.keys(HOOK_LABELS) as HookPhase[]) {
      const text = c.labels[HOOK_LABELS[phase]];
      if (text === undefined) continue;
      const argv = parseArgv(text);
      if (!argv)
        problems.push(
          `container ${c.name}: label ${HOOK_LABELS[phase]} must be a JSON array of strings, the command's argv (e.g. ["php","artisan","down"]; a shell only as ["sh","-c","…"])`,
        );
      else hooks.push({ container: c.name, phase, argv, timeoutMs });
    }
  }
  return { hooks, problems };
}

function parseArgv(text: string): string[] | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')
      ? (v as string[])
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` (an asset's backup) inside its containers' hooks: every `pre` hook first, in
 * container-name order; a failing one fails the asset with its output and `work` does not run.
 * After `work`: `post` when it succeeded, `error` when it (or a pre hook) failed, then `finally`
 * always. Each hook's exit code and output go on the run's timeline. A failing post, error or
 * finally hook is reported but does not undo a backup that was written. Nothing is run through
 * a shell unless the label's argv says so.
 */
export async function withHooks<T>(
  deps: Pick<EngineDeps, 'runtime' | 'clock'>,
  ctx: RunContext,
  asset: Asset,
  work: () => Promise<T>,
): Promise<T> {
  const containers = await deps.runtime.listContainers();
  const { hooks, problems } = hooksFor(asset, containers);
  if (problems.length)
    throw externalError(
      ErrorCode.HOOK_FAILED,
      `hooks of ${asset.name} are misconfigured: ${problems.join('; ')}`,
      {
        asset: asset.name,
        step: 'hooks',
      },
    );
  if (!hooks.length) return work();
  const phase = (p: HookPhase) => hooks.filter((h) => h.phase === p);
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    for (const h of phase('pre')) {
      const failure = await runHook(deps, ctx, asset, h);
      if (failure)
        throw externalError(ErrorCode.HOOK_FAILED, `pre hook in ${h.container} failed: ${failure}`, {
          asset: asset.name,
          step: 'hooks',
        });
    }
    outcome = { ok: true, value: await work() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  for (const h of phase(outcome.ok ? 'post' : 'error')) await runHook(deps, ctx, asset, h);
  for (const h of phase('finally')) await runHook(deps, ctx, asset, h);
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** Runs one hook; undefined when it succeeded, else what went wrong (exit code and output). */
async function runHook(
  deps: Pick<EngineDeps, 'runtime' | 'clock'>,
  ctx: RunContext,
  asset: Asset,
  h: Hook,
): Promise<string | undefined> {
  const label = `${h.phase} hook in ${h.container}`;
  const started = deps.clock.monotonic();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const running = deps.runtime.exec(h.container, { cmd: h.argv });
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), h.timeoutMs);
    });
    const res = await Promise.race([running, timedOut]);
    const took = formatSpan(deps.clock.monotonic() - started);
    if (res === 'timeout') {
      running.catch(() => undefined);
      const problem = `timed out after ${formatSpan(h.timeoutMs)} (${HOOK_TIMEOUT_LABEL}); it may still be running in the container`;
      ctx.warn(`${label}: ${problem}`, { asset: asset.name, argv: h.argv }, 'hooks');
      return problem;
    }
    const output = shown(`${res.stdout}${res.stderrTail ? `\n${res.stderrTail}` : ''}`);
    const data = { asset: asset.name, container: h.container, argv: h.argv, exitCode: res.exitCode, output };
    if (res.exitCode === 0) {
      ctx.info(`${label}: exit 0 (${took})${output ? `: ${output}` : ''}`, data, 'hooks');
      return undefined;
    }
    ctx.warn(`${label}: exit ${res.exitCode} (${took})${output ? `: ${output}` : ''}`, data, 'hooks');
    return `exit ${res.exitCode}${output ? `: ${output}` : ''}`;
  } catch (err) {
    const problem = describeError(err);
    ctx.warn(`${label}: could not run: ${problem}`, { asset: asset.name, argv: h.argv }, 'hooks');
    return problem;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function shown(text: string): string {
  const t = text.trim();
  return t.length > OUTPUT_SHOWN ? `…${t.slice(-OUTPUT_SHOWN)}` : t;
}
