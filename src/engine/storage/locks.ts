// Retention and Object Lock: which copies of an object a target still holds locked, and until when.
import { describeError } from '../../errors.js';
import type { BackupTarget } from '../../ports/backup-target.js';

export interface LockCheck {
  /** `s3 until 2027-01-01T00:00:00.000Z`, one per target holding the object locked. */
  locked: string[];
  /** The latest retain-until: when the object becomes deletable everywhere. */
  deletableAt: Date | undefined;
  /** Targets that could not say (the object is then not deleted either). */
  errors: string[];
}

/**
 * Asks every target that locks objects (S3 Object Lock) until when `key` is held. Retention
 * never deletes a locked object early: the caller keeps it and reports when it is deletable.
 */
export async function lockedCopies(targets: BackupTarget[], key: string, now: Date): Promise<LockCheck> {
  const out: LockCheck = { locked: [], deletableAt: undefined, errors: [] };
  for (const t of targets) {
    if (!t.lockedUntil) continue;
    try {
      const until = await t.lockedUntil(key);
      if (!until || until <= now) continue;
      out.locked.push(`${t.name} until ${until.toISOString()}`);
      if (!out.deletableAt || until > out.deletableAt) out.deletableAt = until;
    } catch (err) {
      out.errors.push(`${t.name}: ${describeError(err)}`);
    }
  }
  return out;
}
