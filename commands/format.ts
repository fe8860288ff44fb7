// Plain-text tables and run lines shared by the commands' answers.
import { formatRetention, formatSpan } from '../src/domain/duration.js';
import type { Run } from '../src/domain/runs.js';

export function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Fixed-width text table; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const span = (ms: number | undefined) => (ms === undefined ? '-' : formatSpan(ms));
export { formatRetention };

export function runLine(r: Run): string[] {
  const dur = r.startedAt && r.endedAt ? formatSpan(r.endedAt.getTime() - r.startedAt.getTime()) : '-';
  return [
    r.id,
    r.kind,
    r.target,
    r.status,
    r.createdAt.toISOString().replace('.000Z', 'Z'),
    dur,
    r.requester,
    r.error ? truncate(r.error, 80) : '',
  ];
}

export function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
