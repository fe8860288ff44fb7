// Types of report.mjs, for the tests that check its arithmetic (test/unit/bench).

export interface Sample {
  ms: number;
  steps?: Record<string, number | undefined>;
  peakRssKiB?: number;
  tempBytes?: number;
  outBytes?: number;
  cpuMs?: number;
  cpuBusy?: number;
  s3CpuMs?: number;
  busy?: boolean;
}

export interface Summary {
  n: number;
  ms: number | undefined;
  minMs: number;
  maxMs: number;
  peakRssKiB: number | undefined;
  maxPeakRssKiB: number | undefined;
  tempBytes: number | undefined;
  outBytes: number | undefined;
  cpuMs: number | undefined;
  cpuBusy: number | undefined;
  s3CpuMs: number | undefined;
  busy: number;
  steps: Record<string, number | undefined>;
}

export interface Goal {
  id: string;
  text: string;
  limit: number;
  unit: 'x' | 'MB';
  values: (number | undefined)[];
  reference?: boolean;
  met: boolean | undefined;
}

export interface SizeResult {
  label: string;
  bytes?: number;
  data?: unknown;
  samples?: Record<string, Sample[]>;
  summary: Record<string, Summary>;
}

export const CONTENDERS: Record<string, { label: string; kind: 'backup' | 'restore' }>;
export function median(xs: readonly (number | undefined)[]): number | undefined;
export function summarize(samples: readonly Sample[]): Summary;
export function evaluateGoals(sizes: readonly SizeResult[]): Goal[];
export function goalsTable(result: { sizes: readonly { label: string }[]; goals: readonly Goal[] }): string;
export function s3ServerShare(
  m: Record<string, Summary>,
  cores: number,
): { cpuMs: number; wallMs: number; ofLimit: number } | undefined;
export function sizeSection(z: unknown, previous?: unknown, cores?: number): string;
export function markdown(result: unknown): string;
