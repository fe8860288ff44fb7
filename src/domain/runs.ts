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

export interface Run {
  id: string;
  kind: RunKind;
  requester: string;
  /** What the run acts on: `all`, an asset name, a set id. */
  target: string;
  status: RunStatus;
  createdAt: Date;
  startedAt: Date | undefined;
  endedAt: Date | undefined;
  /** One-line cause when the run failed. */
  error: string | undefined;
  /** Kind-specific result (set id, counts …). */
  result: Record<string, unknown>;
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
