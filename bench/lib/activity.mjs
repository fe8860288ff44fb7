// Is anything else using this machine while a sample runs? Two views:
//  - Docker: `docker events` for containers and volumes that are not the bench's (an
//    integration-test run, say), for the whole sample;
//  - processes: CPU time used by processes outside the bench's own process tree and its own
//    containers, other than the Docker daemons themselves (which work for everyone).
// A sample that overlapped either is taken again (see run.mjs).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BENCH_LABEL } from './docker.mjs';

const [BENCH_KEY, BENCH_VALUE] = BENCH_LABEL.split('=');
const HZ = 100; // USER_HZ: /proc times are in 1/100 s on Linux
const DOCKER_INFRA = /^(dockerd|containerd|containerd-shim.*|docker-proxy|runc|docker-init)$/;

function readProcs() {
  const procs = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      procs.set(Number(name), {
        comm,
        ppid: Number(f[1]),
        cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / HZ,
        start: f[19],
      });
    } catch {
      // exited meanwhile
    }
  }
  return procs;
}

/** The id of the container a process runs in; '' on the host; undefined if it is gone. */
function containerOf(pid) {
  try {
    return /[0-9a-f]{64}/.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[0] ?? '';
  } catch {
    return undefined;
  }
}

/** CPU ms used between two snapshots by processes that are not ours and not the Docker daemons. */
function foreignCpu(before, after, ownPid, ourContainers) {
  const ours = (pid, procs) => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === ownPid) return true;
      if (p === 2) return true; // kernel threads (I/O on everyone's behalf)
      p = procs.get(p)?.ppid ?? 0;
    }
    return false;
  };
  let ms = 0;
  const who = new Map();
  for (const [pid, p] of after) {
    const prev = before.get(pid);
    const delta = p.cpuMs - (prev && prev.start === p.start ? prev.cpuMs : 0);
    if (delta <= 0 || pid === 2 || ours(pid, after) || DOCKER_INFRA.test(p.comm)) continue;
    const container = containerOf(pid);
    if (container === undefined || ourContainers.has(container)) continue;
    ms += delta;
    who.set(p.comm, (who.get(p.comm) ?? 0) + delta);
  }
  const top = [...who.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return { ms, top: top.map(([c, t]) => `${c} ${(t / 1000).toFixed(1)}s`) };
}

/** Foreign host CPU over a short window (for "is the host idle now?"). */
export async function foreignCpuNow(ourContainers, windowMs = 1000) {
  const a = readProcs();
  await new Promise((r) => setTimeout(r, windowMs));
  return foreignCpu(a, readProcs(), process.pid, new Set(ourContainers));
}

/**
 * Watches from now until stop(); `ourVolumes` are the bench's volume names (their anchors and
 * mounts are ours), `ourContainers` the ids of its long-lived containers (the bench's short-lived
 * ones are recognised by label). stop() returns { dockerEvents: [...], foreignCpuMs, top }.
 */
export function startActivityMonitor(ourVolumes, ourContainers) {
  const ours = new Set(ourContainers);
  const since = Math.floor(Date.now() / 1000) - 1;
  const child = spawn(
    'docker',
    [
      'events',
      '--since',
      String(since),
      '--format',
      '{{json .}}',
      '--filter',
      'type=container',
      '--filter',
      'type=volume',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const events = new Set();
  createInterface({ input: child.stdout }).on('line', (line) => {
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      return;
    }
    const attrs = ev.Actor?.Attributes ?? {};
    if (ev.Type === 'container') {
      if (attrs[BENCH_KEY] === BENCH_VALUE) {
        if (ev.Actor?.ID) ours.add(ev.Actor.ID);
        return;
      }
      if (ourVolumes.includes(attrs['drbot.anchor'])) return;
      events.add(`container ${attrs.name ?? ev.Actor?.ID?.slice(0, 12)} ${ev.Action}`);
    } else if (ev.Type === 'volume') {
      if (ourVolumes.includes(ev.Actor?.ID)) return;
      events.add(`volume ${ev.Actor?.ID} ${ev.Action}`);
    }
  });
  const before = readProcs();
  return {
    async stop() {
      const after = readProcs();
      // Give `docker events` a moment to deliver what happened up to now.
      await new Promise((r) => setTimeout(r, 300));
      child.kill();
      const cpu = foreignCpu(before, after, process.pid, ours);
      return { dockerEvents: [...events], foreignCpuMs: cpu.ms, top: cpu.top };
    },
  };
}
