import type { ArtifactKind } from '../domain/assets.js';
import type {
  LocationStatus,
  Run,
  RunEvent,
  RunEventType,
  RunKind,
  RunStatus,
  SetStatus,
} from '../domain/runs.js';

export interface ArtifactLocation {
  target: string;
  key: string;
  status: LocationStatus;
  confirmedAt: Date | undefined;
}

export interface ArtifactRecord {
  id: number;
  setId: string;
  asset: string;
  kind: ArtifactKind;
  file: string;
  size: number | undefined;
  rawSize: number | undefined;
  sha256: string | undefined;
  compression: string;
  engineVersion: string | undefined;
  startedAt: Date;
  endedAt: Date | undefined;
  status: 'writing' | 'complete' | 'failed' | 'pruned';
  prunedAt: Date | undefined;
  /** What a restore needs to recreate the asset: volume labels, database container and engine. */
  meta: ArtifactMeta;
  /** Last time its checksum was confirmed on every target by a verify. */
  verifiedAt: Date | undefined;
  /** Last time a deep verify restored it into scratch and it passed the sanity checks. */
  deepVerifiedAt: Date | undefined;
  /** Why the last verify of it failed, if it did. */
  verifyError: string | undefined;
  locations: ArtifactLocation[];
}

export interface ArtifactMeta {
  labels?: Record<string, string>;
  container?: string;
  engine?: string;
  image?: string;
  user?: string;
}

/** `backup`: a restore point; `safety`: the state a restore replaced, kept for undo. */
export type SetPurpose = 'backup' | 'safety';

export interface SetRecord {
  id: string;
  runId: string;
  purpose: SetPurpose;
  createdAt: Date;
  completedAt: Date | undefined;
  status: SetStatus;
  error: string | undefined;
  verifiedAt: Date | undefined;
  deepVerifiedAt: Date | undefined;
  artifacts: ArtifactRecord[];
}

export interface NewArtifact {
  setId: string;
  asset: string;
  kind: ArtifactKind;
  file: string;
  compression: string;
  startedAt: Date;
  meta?: ArtifactMeta;
}

/** Durable state: runs with their timelines, and the catalog of sets and artifacts. */
export interface StateStore {
  createRun(input: { kind: RunKind; requester: string; target: string; status: RunStatus; at: Date }): Run;
  updateRun(
    id: string,
    patch: Partial<Pick<Run, 'status' | 'startedAt' | 'endedAt' | 'error' | 'result'>>,
  ): Run;
  getRun(id: string): Run | undefined;
  listRuns(limit: number): Run[];
  appendEvent(
    runId: string,
    event: { at: Date; stage?: string; type: RunEventType; message: string; data?: Record<string, unknown> },
  ): void;
  events(runId: string): RunEvent[];
  /** Marks every `running` run `interrupted` (process died); returns them. */
  interruptRunning(at: Date): Run[];

  createSet(input: { id: string; runId: string; createdAt: Date; purpose?: SetPurpose }): void;
  updateSet(
    id: string,
    patch: Partial<Pick<SetRecord, 'status' | 'completedAt' | 'error' | 'verifiedAt' | 'deepVerifiedAt'>>,
  ): void;
  getSet(id: string): SetRecord | undefined;
  /** Sets newest first, optionally of some statuses / purposes only. */
  listSets(filter?: { status?: SetStatus[]; purpose?: SetPurpose }): SetRecord[];

  addArtifact(input: NewArtifact): number;
  updateArtifact(
    id: number,
    patch: Partial<
      Pick<
        ArtifactRecord,
        | 'size'
        | 'rawSize'
        | 'sha256'
        | 'engineVersion'
        | 'endedAt'
        | 'status'
        | 'prunedAt'
        | 'verifiedAt'
        | 'deepVerifiedAt'
        | 'verifyError'
      >
    >,
  ): void;
  setLocation(artifactId: number, location: ArtifactLocation): void;

  /** Asks a run to stop at its next safe point. */
  requestCancel(runId: string, by: string, at: Date): void;
  cancelRequested(runId: string): { by: string; at: Date } | undefined;

  /** The RPO monitor's alert state, one row per asset and kind. */
  alerts(): AlertRecord[];
  saveAlert(alert: AlertRecord): void;

  /** Small named values that must survive restarts (last digest, last scheduled slot …). */
  getNote(key: string): string | undefined;
  setNote(key: string, value: string): void;

  close(): void;
}

export interface AlertRecord {
  asset: string;
  kind: 'rpo' | 'schedule';
  open: boolean;
  since: Date;
  detail: string;
  notifiedAt: Date | undefined;
  closedAt: Date | undefined;
}
