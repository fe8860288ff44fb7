// Child processes for the benchmark: timing, peak RSS, stderr tails, and a registry of
// everything still running so a failing or interrupted bench can stop what it started.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** GNU time gives the exact peak RSS of the process it waits for (ru_maxrss). */
export const GNU_TIME = ['/usr/bin/time', '/bin/time'].find((p) => existsSync(p));

const live = new Set();
let counter = 0;
let scratchDir;

/** Where rusage files go (set once by the runner; removed with the bench's temp dir). */
export function setScratchDir(dir) {
  scratchDir = dir;
}

/** Kills every child process group still running (each child is started in its own group). */
export function killAllChildren() {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

const tail = (s, n = 4000) => (s.length > n ? s.slice(-n) : s);

/**
 * Runs `cmd args` and resolves with { code, stdout, stderr, ms, peakRssKiB }.
 *  - env: merged over process.env (secrets go here, never into argv);
 *  - input: a string/Buffer written to stdin; stdin: 'ignore' | a Readable (piped);
 *  - stdout: 'capture' (default) | 'null' (to /dev/null, never buffered);
 *  - rss: measure the peak RSS of `cmd` (GNU time, else polling /proc/<pid>/status VmHWM);
 *  - check: reject on a non-zero exit (default true).
 */
export function run(cmd, args, opts = {}) {
  const { env, input, cwd, check = true, rss = false, stdout = 'capture', stdin } = opts;
  let argv = [cmd, ...args];
  let rssFile;
  if (rss && GNU_TIME) {
    rssFile = join(scratchDir ?? '/tmp', `rusage-${process.pid}-${++counter}`);
    argv = [GNU_TIME, '-f', '%M %U %S', '-o', rssFile, ...argv];
  }
  const nullFd = stdout === 'null' ? openSync('/dev/null', 'w') : undefined;
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: [input !== undefined || stdin ? 'pipe' : 'ignore', nullFd ?? 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d) => {
    err = tail(err + d.toString(), 64_000);
  });
  if (input !== undefined) {
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  } else if (stdin) {
    child.stdin.on('error', () => undefined);
    stdin.pipe(child.stdin);
  }
  let polledKiB = 0;
  let poll;
  if (rss && !GNU_TIME) {
    poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) polledKiB = Math.max(polledKiB, Number(m[1]));
      } catch {
        // exited
      }
    }, 50);
  }
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      live.delete(child);
      if (poll) clearInterval(poll);
      if (nullFd !== undefined) closeSync(nullFd);
      reject(new Error(`cannot start ${cmd}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      const ms = performance.now() - started;
      live.delete(child);
      if (poll) clearInterval(poll);
      if (nullFd !== undefined) closeSync(nullFd);
      let peakRssKiB = rss ? polledKiB || undefined : undefined;
      let cpuMs;
      if (rssFile) {
        try {
          const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
          const [kib, user, sys] = lines[lines.length - 1].split(' ').map(Number);
          peakRssKiB = kib || undefined;
          cpuMs = Number.isFinite(user + sys) ? (user + sys) * 1000 : undefined;
        } catch {
          // time could not write it (killed)
        }
        rmSync(rssFile, { force: true });
      }
      const res = { code: code ?? 128, signal, stdout: out, stderr: err, ms, peakRssKiB, cpuMs };
      if (check && res.code !== 0) {
        const what = [cmd, ...args].join(' ').slice(0, 200);
        reject(
          new Error(
            `${what} exited with ${signal ?? res.code}${err.trim() ? `:\n${tail(err.trim(), 1500)}` : ''}`,
          ),
        );
      } else resolve(res);
    });
  });
}

/** `bash -o pipefail -c script _ ...args`: positional args instead of interpolation. */
export function sh(script, args = [], opts = {}) {
  return run('bash', ['-o', 'pipefail', '-c', script, 'bench', ...args], opts);
}

/** Busy and total jiffies of all CPUs (/proc/stat), to tell how CPU-bound a sample was. */
export function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU ms (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return undefined;
  }
}

/** Wall time of an async function, in ms. */
export async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}
