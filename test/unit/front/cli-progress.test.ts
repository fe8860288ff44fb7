import { describe, expect, it } from 'vitest';
import type { Run } from '../../../src/domain/runs.js';
import type { ArtifactProgress } from '../../../src/engine/runs/run-context.js';
import { CliProgress, progressLine } from '../../../src/front/cli-progress.js';

/** A stand-in for stderr: records what was written, says whether it is a terminal. */
function fakeStderr(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { isTTY, columns: 100, write: (t: string) => writes.push(t) } };
}

/** What a person sees: the escape codes applied (cursor up, clear to the end of the screen). */
function screen(writes: string[]): string[] {
  const lines: string[] = [];
  let cur = '';
  const esc = String.fromCharCode(27);
  const token = new RegExp(`${esc}\\[(\\d+)A\\r${esc}\\[J|\\n|[^\\n${esc}]+`, 'g');
  for (const w of writes) {
    for (const m of w.matchAll(token)) {
      if (m[1]) {
        lines.splice(lines.length - Number(m[1]));
        cur = '';
      } else if (m[0] === '\n') {
        lines.push(cur);
        cur = '';
      } else cur += m[0];
    }
  }
  return lines;
}

const run: Run = {
  id: 'run-7',
  kind: 'restore',
  requester: 'cli:ops',
  target: 'db-only',
  status: 'running',
  createdAt: new Date('2026-03-10T12:00:00Z'),
  startedAt: undefined,
  endedAt: undefined,
  error: undefined,
  result: {},
};
const at = new Date('2026-03-10T12:00:00Z');
const MiB = 1024 * 1024;

function load(bytes: number, seconds: number, done = false): ArtifactProgress {
  return {
    asset: 'main',
    action: 'load',
    stage: 'restore',
    bytes,
    total: 100 * MiB,
    startedAt: at,
    at: new Date(at.getTime() + seconds * 1000),
    done,
  };
}

describe('CliProgress', () => {
  it('prints each stage as it starts and ends, with its duration, and the run’s messages', () => {
    const { writes, out } = fakeStderr(false);
    const progress = new CliProgress(out);

    progress.onRunCreated(run);
    progress.onEvent(run, { stage: 'assess', type: 'stage-start', message: 'assess started' });
    progress.onEvent(run, { stage: 'assess', type: 'info', message: 'main: set-1 from local' });
    progress.onEvent(run, {
      stage: 'assess',
      type: 'stage-end',
      message: 'assess finished',
      data: { ok: true, ms: 1500 },
    });
    progress.onEvent(run, { stage: 'verify', type: 'stage-start', message: 'verify started' });
    progress.onEvent(run, {
      stage: 'verify',
      type: 'stage-end',
      message: 'verify failed: checksum mismatch',
      data: { ok: false, ms: 62_000 },
    });

    expect(writes.join('')).toBe(
      [
        'run-7: restore db-only',
        '→ assess',
        '  main: set-1 from local',
        '✓ assess (2s)',
        '→ verify',
        '✗ verify failed: checksum mismatch (1m 2s); details: drbot run run-7',
        '',
      ].join('\n'),
    );
  });

  it('on a terminal keeps one progress line per artifact, redrawn in place under the stage lines', () => {
    const { writes, out } = fakeStderr(true);
    const progress = new CliProgress(out);

    progress.onEvent(run, { stage: 'restore', type: 'stage-start', message: 'restore started' });
    progress.onProgress?.(run, load(10 * MiB, 1));
    progress.onProgress?.(run, load(30 * MiB, 3));
    const during = screen(writes);
    progress.onEvent(run, { stage: 'restore', type: 'info', message: 'main: safety snapshot taken' });
    const withMessage = screen(writes);
    progress.onProgress?.(run, load(100 * MiB, 10, true));
    progress.close();

    expect(during).toEqual(['→ restore', '  main load  30.0 MiB / 100.0 MiB  30%  10.0 MiB/s  ETA 7s']);
    expect(withMessage).toEqual([
      '→ restore',
      '  main: safety snapshot taken',
      '  main load  30.0 MiB / 100.0 MiB  30%  10.0 MiB/s  ETA 7s',
    ]);
    expect(screen(writes)).toEqual(['→ restore', '  main: safety snapshot taken']);
  });

  it('draws no progress and writes no escape codes when stderr is not a terminal', () => {
    const { writes, out } = fakeStderr(false);
    const progress = new CliProgress(out);

    progress.onEvent(run, { stage: 'dump', type: 'stage-start', message: 'dump started' });
    progress.close();

    expect(progress.onProgress).toBeUndefined();
    expect(writes.join('')).toBe('→ dump\n');
  });

  it('shows bytes and rate without a percentage or ETA when the size is not known', () => {
    const line = progressLine({ ...load(5 * MiB, 2), action: 'dump', total: undefined });

    expect(line).toBe('  main dump  5.0 MiB  2.5 MiB/s');
  });
});
