// The disaster-recovery run: assess → assemble → verify → restore → resume → postmortem.
import { renderPostmortem } from '../../domain/postmortem.js';
import { type RestorePlan, type RestoreScope, scopeLabel } from '../../domain/restore-plan.js';
import {
  type RestoreRequestRecord,
  type RestoreRunResult,
  type Run,
  restoreResult,
} from '../../domain/runs.js';
import { describeError, ErrorCode, externalError, toAppError, userError } from '../../errors.js';
import type { SetRecord } from '../../ports/state-store.js';
import { identityFor } from '../catalog/artifact-read.js';
import { newestBackupSets } from '../catalog/catalog.js';
import { loadInventory } from '../catalog/inventory.js';
import { targetNamed } from '../catalog/rebuild.js';
import type { EngineDeps } from '../deps.js';
import { catchUpLogs, verifyPlannedLogs } from '../pitr/pitr-restore.js';
import type { ApprovalDecision, ApprovalGate } from '../runs/approval.js';
import { acquireAssets } from '../runs/locks.js';
import { combineObservers, RunContext, type RunObserver } from '../runs/run-context.js';
import { createContainers, createInfrastructure, loadHostSpec, readEnvFile } from './bare-host.js';
import { buildPlan, scopeAssets } from './restore-plan.js';
import { restoreDatabase, restoreVolume } from './restore-steps.js';
import { startAgain, waitReady } from './resume.js';
import { safetySnapshot } from './safety-snapshot.js';
import { planAsRead, type VerifiedCopy, verifyCopies } from './verified-copy.js';

export interface RestoreRequest {
  scope: RestoreScope;
  /** A set id; default the newest complete set per asset. */
  from: string | undefined;
  requester: string;
  gate: ApprovalGate;
  /** `undo` restores a previous restore's safety snapshot. */
  kind?: 'restore' | 'undo';
  /** For undo: the run whose snapshot is put back (recorded as the target). */
  undoOf?: string;
  /** Exactly these assets instead of the scope's (undo: what the snapshot holds). */
  only?: string[];
  /** `--source <target>`: read every artifact from this target. */
  source?: string;
  /** `--env-file FILE`: secret values for containers a bare-host restore re-creates. */
  envFile?: string;
  /** `--to`: restore the databases to this point in time (base dump + archived logs, DESIGN §11). */
  to?: Date;
  observer?: RunObserver;
  /**
   * Takes up this run, left waiting for approval by a process that stopped, instead of starting
   * a new one: the plan is assessed again and put to `gate` (see resumeRestore).
   */
  resume?: string;
}

export interface RestoreOutcome {
  run: Run;
  status: Run['status'];
  plan: RestorePlan | undefined;
  decision: ApprovalDecision | undefined;
  safetySetId: string | undefined;
  failures: string[];
  postmortem: string | undefined;
}

/**
 * The disaster-recovery run: assess → assemble → verify → restore → resume → postmortem.
 * Nothing live is touched before approval and a verified set; nothing is replaced without a
 * safety snapshot of it; services that were stopped are started again even when a step fails.
 */
export async function runRestore(deps: EngineDeps, req: RestoreRequest): Promise<RestoreOutcome> {
  const kind = req.kind ?? 'restore';
  if (req.to && req.from)
    throw userError(ErrorCode.USAGE, '--to picks its own base set: give either --to or --from, not both');
  // Resolve names before anything is recorded: bad input starts nothing.
  const [inventory, containers, volumes] = await Promise.all([
    loadInventory(deps),
    deps.runtime.listContainers(),
    deps.runtime.listVolumes(),
  ]);
  const volumeNames = new Set(volumes.map((v) => v.name));
  const sets = candidateSets(deps, req);
  const names = scopeAssets(req.scope, inventory, sets, volumeNames, req.only).map((c) => c.name);
  // The run is recorded (or taken up) with its assets under the lock: from then on it holds them.
  const run = acquireAssets(
    deps,
    kind,
    names,
    () => (req.resume ? takeUp(deps, req.resume, names) : openRun(deps, req, kind, names)),
    req.resume,
  );
  return restoreRun(deps, req, { kind, inventory, containers, volumeNames, sets, names, run });
}

/** What was asked, as the run keeps it (so another process can take the run up). */
function requestRecord(req: RestoreRequest): RestoreRequestRecord {
  return {
    scope: req.scope,
    ...(req.from ? { from: req.from } : {}),
    ...(req.only ? { only: req.only } : {}),
    ...(req.source ? { source: req.source } : {}),
    ...(req.envFile ? { envFile: req.envFile } : {}),
    ...(req.undoOf ? { undoOf: req.undoOf } : {}),
    ...(req.to ? { to: req.to.toISOString() } : {}),
  };
}

function openRun(deps: EngineDeps, req: RestoreRequest, kind: 'restore' | 'undo', names: string[]): Run {
  const target =
    kind === 'undo'
      ? (req.undoOf as string)
      : `${scopeLabel(req.scope)}${req.from ? ` --from ${req.from}` : ''}${req.to ? ` --to ${req.to.toISOString()}` : ''}`;
  const at = deps.clock.now();
  const run = deps.store.createRun({ kind, requester: req.requester, target, status: 'running', at });
  return deps.store.updateRun(run.id, {
    startedAt: at,
    result: { assets: names, request: requestRecord(req) },
  });
}

/** A run no live process waits on any more becomes this process's, running again for assess. */
function takeUp(deps: EngineDeps, runId: string, names: string[]): Run {
  if (!deps.store.claimRun(runId)) {
    const run = deps.store.getRun(runId);
    throw userError(
      ErrorCode.ASSET_BUSY,
      run?.status === 'pending-approval'
        ? `${runId} is being handled by another drbot process`
        : `${runId} is no longer waiting for approval (${run?.status ?? 'no such run'})`,
    );
  }
  const run = deps.store.getRun(runId) as Run;
  return deps.store.updateRun(runId, {
    status: 'running',
    result: { ...restoreResult(run), assets: names },
  });
}

/**
 * Takes up a restore or undo that a process which stopped (a deploy, a crash) left waiting for
 * approval, when its card is acted on: the same run goes through assess again and the new plan
 * is put to `gate`, which approves only the plan the card showed; then it carries on as usual.
 */
export async function resumeRestore(
  deps: EngineDeps,
  req: { runId: string; gate: ApprovalGate; observer?: RunObserver },
): Promise<RestoreOutcome> {
  const run = deps.store.getRun(req.runId);
  if (!run) throw userError(ErrorCode.RUN_NOT_FOUND, `no run '${req.runId}'`);
  const asked = restoreResult(run).request;
  if ((run.kind !== 'restore' && run.kind !== 'undo') || run.status !== 'pending-approval' || !asked)
    throw userError(
      ErrorCode.USAGE,
      `${req.runId} (${run.kind}, ${run.status}) is not a restore waiting for approval that can be taken up`,
    );
  return runRestore(deps, {
    scope: asked.scope,
    from: asked.from,
    requester: run.requester,
    gate: req.gate,
    kind: run.kind,
    resume: run.id,
    ...(asked.only ? { only: asked.only } : {}),
    ...(asked.source ? { source: asked.source } : {}),
    ...(asked.envFile ? { envFile: asked.envFile } : {}),
    ...(asked.undoOf ? { undoOf: asked.undoOf } : {}),
    ...(asked.to ? { to: new Date(asked.to) } : {}),
    ...(req.observer ? { observer: req.observer } : {}),
  });
}

async function restoreRun(
  deps: EngineDeps,
  req: RestoreRequest,
  pre: {
    kind: 'restore' | 'undo';
    inventory: Awaited<ReturnType<typeof loadInventory>>;
    containers: Awaited<ReturnType<EngineDeps['runtime']['listContainers']>>;
    volumeNames: Set<string>;
    sets: SetRecord[];
    names: string[];
    run: Run;
  },
): Promise<RestoreOutcome> {
  const { store, clock } = deps;
  const { kind, inventory, containers, volumeNames, sets, names } = pre;
  let run = pre.run;
  const ctx = new RunContext(run, store, clock, deps.log, combineObservers(req.observer, deps.observer));
  // Cancelling is possible until live data starts being replaced, never in the middle of it.
  ctx.cancellableStages = new Set(['assess', 'assemble', 'verify', 'restore']);
  const out: RestoreOutcome = {
    run,
    status: 'failed',
    plan: undefined,
    decision: undefined,
    safetySetId: undefined,
    failures: [],
    postmortem: undefined,
  };
  const result: RestoreRunResult = { assets: names, request: requestRecord(req) };
  const save = (patch: Partial<Pick<Run, 'status' | 'startedAt' | 'endedAt' | 'error'>> = {}) => {
    run = store.updateRun(run.id, { ...patch, result });
    return run;
  };
  if (req.resume)
    ctx.info('taken up again: the process that asked for approval stopped; the plan is assessed afresh');
  const stopped: string[] = [];
  const extras: Record<string, string[]> = {};
  let touched = false;
  const envFile = await readEnvFile(req.envFile);
  try {
    const plan = await ctx.stage('assess', async () => {
      // A restore to a point in time first archives the logs written since the last pass.
      if (req.to) await catchUpLogs(deps, ctx, inventory, names);
      const p = await buildPlan(deps, {
        to: req.to,
        scope: req.scope,
        from: req.from,
        inventory,
        sets,
        containers,
        volumes: volumeNames,
        only: req.only,
        source: req.source,
        envFile,
      });
      for (const a of p.assets) {
        ctx.info(
          `${a.asset}: ${a.setId} (${a.file}, ${a.size} bytes) from ${a.readFrom}; data-loss window ${Math.round(a.lossWindowMs / 1000)}s`,
          {
            asset: a.asset,
            lossWindowMs: a.lossWindowMs,
            rpoMs: a.rpoMs,
          },
        );
      }
      for (const n of p.notes) ctx.warn(n);
      // Encrypted sets: without the age identity the run stops here, before anything is touched.
      await identityFor(
        deps,
        p.assets.map((a) => a.file),
        'restore',
      );
      if (p.stopContainers.length) ctx.info(`will stop and restart: ${p.stopContainers.join(', ')}`);
      return p;
    });
    out.plan = plan;
    result.plan = plan;
    save();

    const decision = await ctx.stage('assemble', async () => {
      save({ status: 'pending-approval' });
      // The gate may re-assess to check that the plan it was shown still holds.
      const replan = async () => {
        const [inv, cs, vs] = await Promise.all([
          loadInventory(deps),
          deps.runtime.listContainers(),
          deps.runtime.listVolumes(),
        ]);
        return buildPlan(deps, {
          to: req.to,
          scope: req.scope,
          from: req.from,
          inventory: inv,
          sets: candidateSets(deps, req),
          containers: cs,
          volumes: new Set(vs.map((v) => v.name)),
          only: req.only,
          source: req.source,
          envFile,
        });
      };
      const d = await req.gate.decide(run, plan, replan);
      if (d.approved) ctx.info(`approved by ${d.by} (${d.via})`, { approver: d.by });
      else if (d.status === 'pending-approval') ctx.info(`still waiting for approval: ${d.reason}`);
      else ctx.warn(`${d.status}${d.by ? ` by ${d.by}` : ''}: ${d.reason}`);
      return d;
    });
    if (!decision.approved && decision.status === 'pending-approval') {
      // This process stops; the run keeps waiting for whoever acts on its card next.
      store.releaseRun(run.id);
      out.status = 'pending-approval';
      return { ...out, run };
    }
    out.decision = decision;
    result.decision = decision;
    if (!decision.approved) {
      out.failures.push(decision.reason);
      save({ status: decision.status, endedAt: clock.now(), error: decision.reason });
      out.status = decision.status;
      return { ...out, run };
    }
    save({ status: 'running' });

    const planSets = new Map(plan.assets.map((a) => [a.setId, deps.store.getSet(a.setId) as SetRecord]));
    // The copy of each artifact that hashes right (another one when the planned one is bad);
    // the restore loads exactly that copy, and the outcome shows where it came from.
    const copies = await ctx.stage('verify', async () => {
      const verified = await verifyCopies(deps, ctx, plan, planSets, req.source !== undefined);
      await verifyPlannedLogs(deps, ctx, plan);
      return verified;
    });
    out.plan = planAsRead(plan, copies);
    const copyOf = (a: { asset: string }) => copies.get(a.asset) as VerifiedCopy;

    await ctx.stage('restore', async () => {
      // Services stop before the safety snapshot: what they write until they stop is in it,
      // instead of lost between the snapshot and the replacement.
      for (const name of plan.stopContainers) {
        await deps.runtime.stopContainer(name, Math.round(deps.config.ms.restoreStop / 1000));
        stopped.push(name);
        result.stopped = stopped;
        save();
        ctx.info(`stopped ${name}`);
      }
      out.safetySetId = await safetySnapshot(deps, ctx, plan, inventory.assets);
      if (out.safetySetId) result.safetySetId = out.safetySetId;
      save();
      touched = true;
      const volumes = async () => {
        for (const a of plan.assets.filter((x) => x.kind === 'volume')) {
          const r = await restoreVolume(deps, ctx, planSets.get(a.setId) as SetRecord, a, copyOf(a));
          extras[a.asset] = r.extras;
        }
      };
      const databases = async () => {
        for (const a of plan.assets.filter((x) => x.kind === 'database'))
          await restoreDatabase(deps, ctx, planSets.get(a.setId) as SetRecord, a, copyOf(a), out.safetySetId);
      };
      if (!plan.rebuild) {
        await databases();
        await volumes();
        return;
      }
      // A bare host: networks → volumes → volume data → fresh database containers with their
      // dumps → the other containers, in dependency order.
      const rebuild = plan.rebuild;
      const spec = await loadHostSpec(
        deps.store.getSet(rebuild.specSet) as SetRecord,
        req.source ? [targetNamed(deps, req.source)] : deps.targets,
      );
      if (!spec)
        throw externalError(
          ErrorCode.RESTORE_FAILED,
          `the host spec of ${rebuild.specSet} can no longer be read`,
          {
            step: 'restore',
          },
        );
      const env = { ...deps.env, ...envFile };
      await createInfrastructure(deps, ctx, spec.spec, rebuild);
      await volumes();
      await createContainers(deps, ctx, spec.spec, rebuild.databases, env);
      await databases();
      await createContainers(deps, ctx, spec.spec, rebuild.containers, env);
    });

    // A replay to a point in time measured its exact data-loss window: the outcome shows it.
    out.plan = planAsRead(plan, copies);
    await ctx.stage('resume', async () => {
      await startAgain(deps, ctx, stopped);
      await waitReady(deps, ctx, plan);
    });
    out.status = 'succeeded';
  } catch (err) {
    out.failures.push(describeError(err));
    out.status = toAppError(err).code === ErrorCode.CANCELLED ? 'cancelled' : 'failed';
    if (stopped.length) {
      // Never leave services down because a step failed: start what we stopped.
      await startAgain(deps, ctx, stopped).catch((e) =>
        out.failures.push(`starting services again failed: ${describeError(e)}`),
      );
    }
    if (!out.plan || !out.decision?.approved) {
      // Failed before anything was approved or touched: no recovery happened, no postmortem.
      save({ status: out.status, endedAt: clock.now(), error: out.failures.join(' | ') });
      return { ...out, run };
    }
    ctx.error(
      `${kind} failed${touched ? '' : ' before anything live was touched'}: ${out.failures.join(' | ')}`,
    );
  }

  try {
    await ctx.stage('postmortem', async () => {
      const endedAt = clock.now();
      out.postmortem = renderPostmortem({
        run,
        events: store.events(run.id),
        plan: out.plan,
        approval: out.decision?.approved ? out.decision : undefined,
        safetySetId: out.safetySetId,
        status: out.status === 'succeeded' ? 'succeeded' : 'failed',
        failures: out.failures,
        extras,
        at: endedAt,
      });
      result.postmortem = out.postmortem;
      ctx.info('postmortem written');
    });
  } finally {
    result.failures = out.failures;
    save({
      status: out.status === 'succeeded' || out.status === 'cancelled' ? out.status : 'failed',
      endedAt: clock.now(),
      ...(out.failures.length ? { error: out.failures.join(' | ') } : {}),
    });
  }
  return { ...out, run };
}

/** Complete backup sets to restore from; for undo, only the snapshot being put back. */
function candidateSets(deps: EngineDeps, req: RestoreRequest): SetRecord[] {
  // The newest set of each asset is all a plan without --from picks from (and all that tells
  // it which assets the catalog knows): never the whole catalog.
  const backups = newestBackupSets(deps.store);
  if (!req.from) return backups;
  const set = deps.store.getSet(req.from);
  if (set?.status !== 'complete') {
    const recent = deps.store
      .listSets({ status: ['complete'], purpose: 'backup', limit: 5 })
      .map((s) => s.id);
    throw userError(
      ErrorCode.SET_NOT_FOUND,
      `--from ${req.from}: ${set ? `that set is ${set.status}` : 'no such set'}${recent.length ? `; recent complete sets: ${recent.join(', ')}` : ''}`,
    );
  }
  if (set.purpose === 'safety') return [set];
  // In its place by time, as in the whole catalog: assets it lacks still find their newest.
  const others = backups.filter((s) => s.id !== set.id);
  const at = others.findIndex(
    (s) =>
      s.createdAt.getTime() < set.createdAt.getTime() ||
      (s.createdAt.getTime() === set.createdAt.getTime() && s.id < set.id),
  );
  return at < 0 ? [...others, set] : [...others.slice(0, at), set, ...others.slice(at)];
}

/** `undo <run-id>`: the safety snapshot of that restore, restored with the same six stages. */
export async function runUndo(
  deps: EngineDeps,
  req: { runId: string; requester: string; gate: ApprovalGate; observer?: RunObserver },
): Promise<RestoreOutcome> {
  const prior = deps.store.getRun(req.runId);
  if (!prior) throw userError(ErrorCode.RUN_NOT_FOUND, `no run '${req.runId}'`);
  if (prior.kind !== 'restore' && prior.kind !== 'undo') {
    throw userError(ErrorCode.USAGE, `${req.runId} is a ${prior.kind} run; undo takes a restore run`);
  }
  const safetySetId = typeof prior.result.safetySetId === 'string' ? prior.result.safetySetId : undefined;
  if (!safetySetId)
    throw userError(
      ErrorCode.SET_NOT_FOUND,
      `${req.runId} has no safety snapshot (it ${prior.status === 'succeeded' ? 'replaced nothing that existed' : `ended ${prior.status} before taking one`})`,
    );
  const set = deps.store.getSet(safetySetId);
  if (set?.status !== 'complete')
    throw userError(
      ErrorCode.SET_NOT_FOUND,
      `the safety snapshot ${safetySetId} of ${req.runId} is ${set?.status ?? 'missing'}`,
    );
  return runRestore(deps, {
    scope: 'full',
    from: safetySetId,
    requester: req.requester,
    gate: req.gate,
    kind: 'undo',
    undoOf: req.runId,
    only: set.artifacts.filter((a) => a.status === 'complete').map((a) => a.asset),
    ...(req.observer ? { observer: req.observer } : {}),
  });
}
