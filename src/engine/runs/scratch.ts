import { randomBytes } from 'node:crypto';

/** Label on every scratch container and volume, valued with the run that made it. */
export const SCRATCH_LABEL = 'drbot.scratch';

/** A Docker-safe, recognisable name for a run's scratch object. */
export function scratchName(runId: string, asset: string, kind: 'verify' | 'restore'): string {
  const safe = asset.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 60);
  return `drbot-${kind}-${runId}-${safe}-${randomBytes(2).toString('hex')}`;
}

/** A throw-away password for a scratch database (never logged: registered as a secret). */
export function scratchPassword(): string {
  return `scratch-${randomBytes(12).toString('hex')}`;
}
