// What runs a dead process stopped left behind: partial files, open multipart uploads, scratch and anchors.
import { SET_ID_PATTERN } from '../../domain/layout.js';
import { describeError } from '../../errors.js';
import type { HelperObject } from '../../ports/container-runtime.js';
import { STATE_PREFIX } from '../catalog/sidecars.js';
import type { EngineDeps } from '../deps.js';

/** What a clean-up removed, and what it could not look at or remove. */
export interface DebrisReport {
  /** One line per thing removed, saying what it was. */
  removed: string[];
  problems: string[];
}

/**
 * Whose a thing is, asked once the things are listed: a run that was live at that moment
 * made everything of its own before it, so it is in `live` here. That is why the runs are read
 * after each listing, not before the clean-up starts.
 */
interface Ownership {
  /** `live`: leave it; `done`: its run ended (or its process died); `unknown`: no such run here. */
  run(runId: string): 'live' | 'done' | 'unknown';
  /**
   * Made before the oldest live run and before the clean-up began, so by no live run: also for
   * things that name no run (anchors), or a run another state file knows (another host).
   */
  predates(createdBy: Date | undefined): boolean;
}

function ownership(deps: Pick<EngineDeps, 'store'>, sweptAt: Date): Ownership {
  const live = deps.store.liveRuns();
  const ids = new Set(live.map((r) => r.id));
  const cutoff = Math.min(sweptAt.getTime(), ...live.map((r) => r.createdAt.getTime()));
  return {
    run: (runId) => (ids.has(runId) ? 'live' : deps.store.getRun(runId) ? 'done' : 'unknown'),
    predates: (createdBy) => createdBy !== undefined && createdBy.getTime() < cutoff,
  };
}

/** The set a key belongs to: `YYYY/MM/DD/<set-id>/<file>` or `drbot-state/<set-id>.sqlite.gz`. */
export function setIdOfKey(key: string): string | undefined {
  const parts = key.split('/');
  const candidate =
    key.startsWith(STATE_PREFIX) && parts.length === 2
      ? parts[1]?.replace(/\.sqlite\.gz$/, '')
      : parts.length === 5 && /^\d{4}$/.test(parts[0] ?? '')
        ? parts[3]
        : undefined;
  return candidate && SET_ID_PATTERN.test(candidate) ? candidate : undefined;
}

/**
 * Removes what runs that are no longer running left behind (DESIGN §3: a process killed mid-run
 * leaves an `interrupted` run, and it must not leave debris too): on every target, `*.partial`
 * files and open multipart uploads of their sets; on the container engine, their scratch
 * containers and volumes (label `drbot.scratch=<run>`) and the volume anchors that pin volumes.
 *
 * Nothing a live run is writing is touched, whether it runs in this process or in another on
 * this host sharing the state file: a thing is removed when the run it belongs to is known and
 * not live, or, when it names no run this state knows (anchors name none), when it was made
 * before the oldest live run started. Every failure is a problem in the report, never thrown.
 */
export async function removeDebris(
  deps: Pick<EngineDeps, 'store' | 'runtime' | 'targets' | 'clock' | 'log'>,
): Promise<DebrisReport> {
  const sweptAt = deps.clock.now();
  const report: DebrisReport = { removed: [], problems: [] };
  const results = await Promise.all([
    ...deps.targets.map((t) => removeIncompleteWrites(deps, t, sweptAt)),
    removeHelpers(deps, sweptAt),
  ]);
  for (const r of results) {
    report.removed.push(...r.removed);
    report.problems.push(...r.problems);
  }
  if (report.removed.length) deps.log.info({ removed: report.removed }, 'removed what interrupted runs left');
  if (report.problems.length)
    deps.log.warn({ problems: report.problems }, 'clean-up of what interrupted runs left is incomplete');
  return report;
}

async function removeIncompleteWrites(
  deps: Pick<EngineDeps, 'store'>,
  target: EngineDeps['targets'][number],
  sweptAt: Date,
): Promise<DebrisReport> {
  if (!target.removeIncomplete) return { removed: [], problems: [] };
  let owners: Ownership | undefined;
  try {
    return await target.removeIncomplete((write) => {
      // Called only once the target has listed everything (see the port).
      owners ??= ownership(deps, sweptAt);
      const setId = setIdOfKey(write.key);
      if (!setId) return false; // not drbot's layout: not ours to remove
      const set = deps.store.getSet(setId);
      if (set) return owners.run(set.runId) !== 'live';
      return owners.predates(write.startedBy);
    });
  } catch (err) {
    return {
      removed: [],
      problems: [`${target.name}: could not look for unfinished writes: ${describeError(err)}`],
    };
  }
}

async function removeHelpers(
  deps: Pick<EngineDeps, 'store' | 'runtime'>,
  sweptAt: Date,
): Promise<DebrisReport> {
  const out: DebrisReport = { removed: [], problems: [] };
  if (!deps.runtime.listHelpers) return out;
  let debris: HelperObject[];
  try {
    const helpers = await deps.runtime.listHelpers();
    const owners = ownership(deps, sweptAt);
    debris = helpers.filter((h) => {
      if (h.inUse) return false;
      const run = h.runId ? owners.run(h.runId) : 'unknown';
      return run === 'unknown' ? owners.predates(h.createdBy) : run === 'done';
    });
  } catch (err) {
    out.problems.push(
      `Docker: could not look for drbot's leftover containers and volumes: ${describeError(err)}`,
    );
    return out;
  }
  // Containers first: a container's mount keeps a volume in use until it is gone.
  debris.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'container' ? -1 : 1));
  for (const h of debris) {
    const what =
      h.role === 'anchor'
        ? `container ${h.name} (anchor of volume ${h.volume ?? '?'}, which it kept in use)`
        : `${h.kind} ${h.name} (scratch of ${h.runId ?? 'an unknown run'})`;
    try {
      if (h.kind === 'container') await deps.runtime.removeContainer(h.ref);
      else await deps.runtime.removeVolume(h.ref);
      out.removed.push(what);
    } catch (err) {
      out.problems.push(`${what} was not removed: ${describeError(err)}`);
    }
  }
  return out;
}
