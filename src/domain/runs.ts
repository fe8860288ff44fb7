// Runs: kinds, statuses, typed results and timelines (DESIGN §3, contract).
import type { RestorePlan, RestoreScope } from './restore-plan.js';

/** Run kinds and statuses (DESIGN §3, contract). */
export const RUN_STATUSES = [
  'pending-approval',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'rejected',
  'expired',
  'interrupted',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export type RunKind = 'backup' | 'verify' | 'restore' | 'undo' | 'test' | 'prune';

/** One artifact a backup wrote, as its run records it. */
export interface ArtifactSummary {
  asset: string;
  kind: string;
  file: string;
  size: number;
  rawSize: number;
  sha256: string;
  ms: number;
}

/**
 * What each kind of run records as its result (JSON in the state file). Every field is
 * optional: a run records them as it gets there, and older state files may lack some.
 */
export interface BackupRunResult {
  assets?: string[];
  setId?: string;
  artifacts?: ArtifactSummary[];
  failures?: string[];
  skipped?: string[];
  pruned?: number;
}

/**
 * What was asked of a restore or undo, kept so that a run left waiting for approval by a
 * process that stopped can be taken up again by another (the plan is then assessed afresh).
 */
export interface RestoreRequestRecord {
  scope: RestoreScope;
  from?: string;
  only?: string[];
  source?: string;
  /** The path of `--env-file` (its values are read again, never stored). */
  envFile?: string;
  undoOf?: string;
  /** `--to` as an ISO time: a restore to a point in time. */
  to?: string;
}

export interface RestoreRunResult {
  assets?: string[];
  request?: RestoreRequestRecord;
  plan?: RestorePlan;
  /** The approval decision as recorded (times as ISO text once read back). */
  decision?: unknown;
  safetySetId?: string;
  /** Containers this run stopped and has not started again yet. */
  stopped?: string[];
  postmortem?: string;
  failures?: string[];
}

export interface VerifyRunResult {
  setIds?: string[];
  checks?: unknown[];
  deep?: unknown[];
  failures?: string[];
}

interface RunFields {
  id: string;
  requester: string;
  /** What the run acts on: `all`, an asset name, a set id. */
  target: string;
  status: RunStatus;
  createdAt: Date;
  startedAt: Date | undefined;
  endedAt: Date | undefined;
  /** One-line cause when the run failed. */
  error: string | undefined;
}

/** A run, its result typed by its kind. */
export type Run =
  | (RunFields & { kind: 'backup'; result: BackupRunResult })
  | (RunFields & { kind: 'restore' | 'undo'; result: RestoreRunResult })
  | (RunFields & { kind: 'verify' | 'test'; result: VerifyRunResult })
  | (RunFields & { kind: 'prune'; result: Record<string, never> });

export type RunResult = Run['result'];

/** The assets a run works on (backups and restores record them; other runs hold none). */
export function runAssets(run: Run): string[] {
  return run.kind === 'backup' || run.kind === 'restore' || run.kind === 'undo'
    ? (run.result.assets ?? [])
    : [];
}

/** A restore's or undo's result; empty for other kinds. */
export function restoreResult(run: Run): RestoreRunResult {
  return run.kind === 'restore' || run.kind === 'undo' ? run.result : {};
}

export type RunEventType = 'stage-start' | 'stage-end' | 'info' | 'warn' | 'error';

export interface RunEvent {
  runId: string;
  at: Date;
  stage: string | undefined;
  type: RunEventType;
  message: string;
  data: Record<string, unknown> | undefined;
}

export const TERMINAL_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
  'rejected',
  'expired',
  'interrupted',
];

/** Set and artifact states in the catalog. */
export type SetStatus = 'writing' | 'complete' | 'failed' | 'pruned';
/**
 * Where a copy of an artifact stands on one target. Only `confirmed` copies are read from;
 * `missing`: it was confirmed once but the target no longer holds it (found by a catalog rebuild).
 */
export type LocationStatus = 'writing' | 'confirmed' | 'failed' | 'deleted' | 'missing';
