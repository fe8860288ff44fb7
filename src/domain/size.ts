// Sizes as Docker and teams write them: `512m`, `1g`, `1.5g`, `256k`, or plain bytes.

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export const SIZE_FORMAT = 'bytes, or a number with k, m, g or t (e.g. 512m, 1g, 1.5g); 0 for no limit';

/** `512m`, `1g`, `1.5g`, `2048` → bytes (binary units, as `docker run --memory`); undefined when malformed. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(value.trim());
  if (!m) return undefined;
  const bytes = Math.round(Number(m[1]) * (UNITS[(m[2] as string).toLowerCase()] as number));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
