// Disk accounting: bytes allocated below directories, and a sampler that records the peak
// while a contender runs (its "temp disk": what it writes besides its backup targets).
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Allocated bytes (st_blocks × 512) of everything below `path`, not following links. */
export async function du(path, exclude = new Set()) {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  let total = st.blocks * 512;
  if (!st.isDirectory()) return total;
  let names;
  try {
    names = await readdir(path);
  } catch {
    return total;
  }
  for (const name of names) {
    const p = join(path, name);
    if (exclude.has(p)) continue;
    total += await du(p, exclude);
  }
  return total;
}

/**
 * Samples du(dirs) every `everyMs` until stopped. Returns { baseline, peak, final } in bytes;
 * `peak - baseline` is the most extra disk the contender held at any time.
 */
export async function startDiskSampler(dirs, { exclude = [], everyMs = 200 } = {}) {
  const ex = new Set(exclude);
  const measure = async () => {
    let sum = 0;
    for (const d of dirs) sum += await du(d, ex);
    return sum;
  };
  const baseline = await measure();
  let peak = baseline;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      peak = Math.max(peak, await measure());
    } finally {
      busy = false;
    }
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 10));
      const final = await measure();
      peak = Math.max(peak, final);
      return { baseline, peak, final, extraPeak: peak - baseline };
    },
  };
}
