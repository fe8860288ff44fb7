// Set ids and the artifact layout on every target (`YYYY/MM/DD/<set-id>/<file>`).
import { randomBytes } from 'node:crypto';

/** `set-20261126-141502-3fa9`: sortable by time, unique enough for one host. */
export function newSetId(at: Date, random: () => string = () => randomBytes(2).toString('hex')): string {
  const iso = at.toISOString(); // 2026-11-26T14:15:02.123Z
  const day = iso.slice(0, 10).replaceAll('-', '');
  const time = iso.slice(11, 19).replaceAll(':', '');
  return `set-${day}-${time}-${random()}`;
}

export const SET_ID_PATTERN = /^set-\d{8}-\d{6}-[0-9a-f]{4}$/;

/** `<YYYY>/<MM>/<DD>/<set-id>` — the same on every target, below its root or prefix (DESIGN §2). */
export function setDirectory(setId: string, at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${setId}`;
}

export function artifactKey(setId: string, at: Date, file: string): string {
  return `${setDirectory(setId, at)}/${file}`;
}
