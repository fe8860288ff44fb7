// The app side of the scale benchmark: drbot's engine, /metrics, the RPO monitor and the Slack app in one process (as `npm start` runs them), driven by bench/scale.mjs over IPC.
import './quiet-warnings.mjs';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const DIST = join(resolve(import.meta.dirname, '..', '..'), 'dist', 'src');
const load = (path) => import(join(DIST, path));

const [{ loadConfig }, { buildApp }, { createMetrics }, { RpoMonitor }, { dispatch }, { prepareEngine }] =
  await Promise.all([
    load('config.js'),
    load('app.js'),
    load('adapters/metrics/prometheus.js'),
    load('scheduler/rpo-monitor.js'),
    load('front/dispatch.js'),
    load('front/startup.js'),
  ]);
const { createLogger } = await load('log.js');
const { commandLineGate } = await load('engine/runs/approval.js');

const MiB = 1024 * 1024;
const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
/** The RPO monitor's alerts go nowhere here: what is measured is the sweep's own work. */
const quietNotifier = { report: async () => {}, alert: async () => {} };

let app;
let engine;
let metrics;
let monitor;
let front;
let loop;
let stalls;
let clockOffsetMs = 0;
const running = new Map();
/** Loop turns longer than this are kept with their time, to place them on a run's timeline. */
const STALL_MS = 100;

const gc = () => globalThis.gc?.();
const memory = () => {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
};

/** One call's work: CPU time of this process (user + system) and wall time, in ms. */
async function timed(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** A command as every front end runs it: parsed, run by the engine, rendered to text. */
async function command(words) {
  const reply = await dispatch(words, { engine, requester: 'U0BENCH', log });
  if (!reply.ok) throw new Error(`/dr ${words.join(' ')}: ${reply.text.slice(0, 500)}`);
  return reply.text.length;
}

/** The reads of issue 16, each as the app does it. */
function reads(marks) {
  const list = [
    ['status', () => command(['status'])],
    ['policy', () => command(['policy'])],
    ['runs (first page)', () => command(['runs'])],
    ['runs --before (deep in history)', () => command(['runs', '--before', marks.deepRun])],
    ['run <id> (newest)', () => command(['run', marks.newestRun])],
    ['run <id> (oldest)', () => command(['run', marks.oldestRun])],
    ['/metrics scrape', async () => (await metrics.registry.metrics()).length],
    ['RPO sweep', async () => (await monitor.check(engine.now())).length],
  ];
  if (typeof engine.planRetention === 'function')
    list.push(['retention planning', async () => (await engine.planRetention()).plan.expire.length]);
  return list;
}

const handlers = {
  /** Opens the state and wires the app as src/main.ts does; the engine's clock is shifted by `offsetMs`. */
  async open({ offsetMs }) {
    clockOffsetMs = offsetMs;
    gc();
    const before = memory();
    const config = loadConfig(process.env);
    const clock = {
      now: () => new Date(Date.now() - offsetMs),
      monotonic: () => performance.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    const opened = await timed(async () => {
      app = buildApp(config, log, { clock });
      engine = app.engine;
      metrics = createMetrics(engine);
      monitor = new RpoMonitor(engine, quietNotifier);
      return prepareEngine(engine);
    });
    gc();
    return {
      startup: { wallMs: opened.wallMs, cpuMs: opened.cpuMs, notices: opened.value.map((n) => n.title) },
      memory: { before, after: memory() },
      hasPlanRetention: typeof engine.planRetention === 'function',
      hasCompactCatalog: typeof engine.compactCatalog === 'function',
    };
  },

  /** Every read `repeat` times, one after the other, with CPU, wall and memory per call. */
  async reads({ repeat, marks }) {
    gc();
    const base = memory();
    let peakRss = base.rss;
    const out = [];
    for (const [name, fn] of reads(marks)) {
      const samples = [];
      let error;
      for (let r = 0; r < repeat; r++) {
        try {
          const t = await timed(fn);
          const m = memory();
          peakRss = Math.max(peakRss, m.rss);
          samples.push({ cpuMs: t.cpuMs, wallMs: t.wallMs, heapUsed: m.heapUsed, rss: m.rss, size: t.value });
        } catch (err) {
          error = err.message;
          break;
        }
      }
      out.push({ name, samples, ...(error ? { error } : {}) });
    }
    gc();
    return { base, after: memory(), peakRss, reads: out };
  },

  /**
   * Catalog upkeep (engine.compactCatalog: long-pruned rows removed, old runs' events folded)
   * until nothing is left to do, with the event loop's delay meanwhile.
   */
  async upkeep() {
    if (typeof engine.compactCatalog !== 'function') return { missing: true };
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const t = await timed(() => engine.compactCatalog());
    h.disable();
    return {
      report: t.value,
      wallMs: t.wallMs,
      cpuMs: t.cpuMs,
      loop: { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, count: h.count },
    };
  },

  /** The Slack app on a loopback port, against the fake Web API. */
  async slack({ port, apiUrl, secret, token }) {
    const { createSlackApp } = await load('front/slack/app.js');
    front = createSlackApp({
      engine,
      config: engine.config,
      env: { SLACK_BOT_TOKEN: token, SLACK_SIGNING_SECRET: secret, SLACK_API_URL: apiUrl, PORT: String(port) },
      log,
    });
    await front.start();
    return { port };
  },

  /** Starts recording event-loop delay (10 ms resolution, as Node's docs suggest). */
  async loopStart() {
    loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    // The histogram says how long, this says when (on the engine's clock, as a run's events).
    let last = performance.now();
    const list = [];
    const timer = setInterval(() => {
      const now = performance.now();
      const heldMs = now - last - 10;
      if (heldMs > STALL_MS) list.push({ endedAt: Date.now() - clockOffsetMs, endedAtReal: Date.now(), heldMs });
      last = now;
    }, 10);
    stalls = { timer, list };
    return {};
  },

  async loopStop() {
    loop.disable();
    clearInterval(stalls.timer);
    const held = stalls.list;
    const ms = (ns) => ns / 1e6;
    const h = loop;
    loop = undefined;
    return {
      p50: ms(h.percentile(50)),
      p99: ms(h.percentile(99)),
      max: ms(h.max),
      mean: ms(h.mean),
      count: h.count,
      stalls: held,
    };
  },

  /** Starts a backup or restore in this process (as a Slack command would) without waiting. */
  async start({ key, kind, args }) {
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const promise =
      kind === 'backup'
        ? engine.backup({ target: args.target, requester: 'U0BENCH' })
        : engine.restore({
            scope: `asset:${args.asset}`,
            from: args.from,
            requester: 'U0BENCH',
            gate: commandLineGate(true, 'U0BENCH', () => engine.now()),
          });
    const entry = {
      settled: false,
      done: promise.then(
        (o) => ({ outcome: o, wallMs: performance.now() - started, cpu: process.cpuUsage(cpu0) }),
        (err) => ({ error: err, wallMs: performance.now() - started, cpu: process.cpuUsage(cpu0) }),
      ),
    };
    entry.done.then(() => {
      entry.settled = true;
    });
    running.set(key, entry);
    return {};
  },

  /** Whether a started run has ended. */
  async ended({ key }) {
    return { ended: running.get(key)?.settled ?? true };
  },

  /** Waits for a started run; its outcome and where its time went (stage spans from the timeline). */
  async wait({ key }) {
    const done = await running.get(key).done;
    running.delete(key);
    if (done.error) return { status: 'error', error: done.error.message, wallMs: done.wallMs };
    const o = done.outcome;
    const run = engine.run(o.run.id);
    const stages = {};
    const open = {};
    for (const e of run.events) {
      if (e.type === 'stage-start' && e.stage) open[e.stage] = e.at.getTime();
      if (e.type === 'stage-end' && e.stage && open[e.stage] !== undefined)
        stages[e.stage] = (stages[e.stage] ?? 0) + e.at.getTime() - open[e.stage];
    }
    return {
      runId: o.run.id,
      status: o.status ?? run.run.status,
      setId: o.setId,
      failures: o.failures ?? [],
      error: run.run.error,
      wallMs: done.wallMs,
      processCpuMs: (done.cpu.user + done.cpu.system) / 1000,
      stages,
      problems: run.events.filter((e) => e.type === 'warn' || e.type === 'error').map((e) => e.message),
      timeline: run.events.map((e) => ({ at: e.at.getTime(), stage: e.stage, type: e.type, message: e.message.slice(0, 160) })),
    };
  },

  async close() {
    await front?.stop();
    app?.close();
    return {};
  },
};

process.on('message', ({ id, cmd, args }) => {
  Promise.resolve()
    .then(() => handlers[cmd](args ?? {}))
    .then(
      (result) => process.send({ id, ok: true, result }),
      (err) => process.send({ id, ok: false, error: err?.stack ?? String(err) }),
    );
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, mib: Math.round(process.memoryUsage().rss / MiB) });
