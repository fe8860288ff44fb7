// Summaries, goals and the Markdown report.

const MiB = 1024 * 1024;
const MB = 1e6;

export const CONTENDERS = {
  limitBoth: { label: 'limit: `mariadb-dump` ‖ `tar cf -` (both at once) → /dev/null', kind: 'backup' },
  limitDump: { label: 'limit: `mariadb-dump` alone → /dev/null', kind: 'backup' },
  limitTar: { label: 'limit: `tar cf -` of the volume alone → /dev/null', kind: 'backup' },
  naive: { label: 'naive script: dump → file, `gzip`, `tar czf`, upload both to S3', kind: 'backup' },
  restic: { label: 'restic: volume files + dump `--stdin` → local repo (both at once)', kind: 'backup' },
  drbotBackup: {
    label: '**drbot `backup all`** → local + S3 (gzip, sha256; S3 copy confirmed by Content-MD5, ETags, size)',
    kind: 'backup',
  },
  drbotReadBack: {
    label: 'drbot `backup all` → local + S3 with `confirm: read-back` (downloads each artifact again)',
    kind: 'backup',
  },
  drbotLocal: {
    label: 'drbot `backup all` → local directory only (the same without S3)',
    kind: 'backup',
  },
  drbotEncrypted: {
    label: 'drbot `backup all` → local + S3, encrypted with age (`encryption.recipients`, one recipient)',
    kind: 'backup',
  },
  rawRestore: { label: 'raw: `gunzip -c dump.sql.gz | mariadb`', kind: 'restore' },
  drbotRestore: { label: '**drbot `restore db-only --yes`**', kind: 'restore' },
};

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Medians of one contender's samples (steps too). */
export function summarize(samples) {
  const ms = samples.map((s) => s.ms);
  const steps = {};
  for (const key of new Set(samples.flatMap((s) => Object.keys(s.steps ?? {})))) {
    steps[key] = median(samples.map((s) => s.steps?.[key]));
  }
  return {
    n: samples.length,
    ms: median(ms),
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    peakRssKiB: median(samples.map((s) => s.peakRssKiB)),
    maxPeakRssKiB: samples.some((s) => s.peakRssKiB)
      ? Math.max(...samples.map((s) => s.peakRssKiB ?? 0))
      : undefined,
    tempBytes: samples.some((s) => s.tempBytes !== undefined)
      ? Math.max(...samples.map((s) => s.tempBytes ?? 0))
      : undefined,
    outBytes: median(samples.map((s) => s.outBytes)),
    cpuMs: median(samples.map((s) => s.cpuMs)),
    cpuBusy: median(samples.map((s) => s.cpuBusy)),
    s3CpuMs: median(samples.map((s) => s.s3CpuMs)),
    busy: samples.filter((s) => s.busy).length,
    steps,
  };
}

const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);

/** Goals of the "Benchmarks" issue, evaluated per size (and across sizes for flat RSS). */
export function evaluateGoals(sizes) {
  const per = (fn) => sizes.map((s) => fn(s.summary));
  const goals = [];
    const add = (id, text, limit, values, unit, reference = false) => {
    const known = values.filter((v) => v !== undefined);
    if (reference && !known.length) return;
    goals.push({
      id,
      text,
      limit,
      unit,
      values,
      reference,
      met: known.length ? known.every((v) => v <= limit) : undefined,
    });
  };
  add(
    'vs-limit',
    'backup ≤ 1.25× raw dump + tar',
    1.25,
    per((m) => ratio(m.drbotBackup?.ms, m.limitBoth?.ms)),
    'x',
  );
  add(
    'vs-naive',
    'backup ≤ 0.5× the naive script',
    0.5,
    per((m) => ratio(m.drbotBackup?.ms, m.naive?.ms)),
    'x',
  );
  add(
    'vs-restic',
    'backup not slower than restic',
    1.0,
    per((m) => ratio(m.drbotBackup?.ms, m.restic?.ms)),
    'x',
  );
    // The same three for the local-only run: what drbot's pipeline costs without the S3 server's
  // share of the two cores. For reference; the goals are the rows above.
  add(
    'local-vs-limit',
    'reference, local only: backup ≤ 1.25× raw dump + tar',
    1.25,
    per((m) => ratio(m.drbotLocal?.ms, m.limitBoth?.ms)),
    'x',
    true,
  );
  add(
    'local-vs-naive',
    'reference, local only: backup ≤ 0.5× the naive script',
    0.5,
    per((m) => ratio(m.drbotLocal?.ms, m.naive?.ms)),
    'x',
    true,
  );
  add(
    'local-vs-restic',
    'reference, local only: backup not slower than restic',
    1.0,
    per((m) => ratio(m.drbotLocal?.ms, m.restic?.ms)),
    'x',
    true,
  );
  // Client-side encryption (age, in the same streamed pass) against the same backup without it.
  add(
    'encryption',
    'encryption costs ≤ 10 %: encrypted backup ≤ 1.10× the same backup unencrypted',
    1.1,
    per((m) => ratio(m.drbotEncrypted?.ms, m.drbotBackup?.ms)),
    'x',
  );
  add(
    'restore',
    'restore db-only ≤ 1.15× raw `gunzip | mysql`',
    1.15,
    per((m) => ratio(m.drbotRestore?.ms, m.rawRestore?.ms)),
    'x',
  );
  add(
    'rss',
    'peak RSS ≤ 200 MB (backup and restore)',
    200,
    per((m) => {
      const k = Math.max(m.drbotBackup?.maxPeakRssKiB ?? 0, m.drbotRestore?.maxPeakRssKiB ?? 0);
      return k ? (k * 1024) / MB : undefined;
    }),
    'MB',
  );
  if (sizes.length >= 2) {
    const first = sizes[0].summary.drbotBackup?.peakRssKiB;
    const last = sizes[sizes.length - 1].summary.drbotBackup?.peakRssKiB;
    const growth = first && last ? last / first : undefined;
    goals.push({
      id: 'rss-flat',
      text: `peak RSS flat as data grows (${sizes[0].label} → ${sizes[sizes.length - 1].label}: ≤ +20 %)`,
      limit: 1.2,
      unit: 'x',
      values: sizes.map((_, i) => (i === sizes.length - 1 ? growth : undefined)),
      met: growth === undefined ? undefined : growth <= 1.2,
    });
  }
  return goals;
}

// ---------------------------------------------------------------------------------------------

const s = (ms) =>
  ms == null ? '–' : ms >= 100_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`;
const mib = (b) =>
  b == null
    ? '–'
    : b >= 10 * 1024 * MiB
      ? `${(b / 1024 / MiB).toFixed(1)} GiB`
      : `${(b / MiB).toFixed(b < 10 * MiB ? 1 : 0)} MiB`;
const rss = (k) => (k == null ? '–' : `${Math.round((k * 1024) / MB)} MB`);
const x = (r) => (r == null ? '–' : `${r.toFixed(2)}×`);
const tput = (bytes, ms) => (bytes && ms ? `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s` : '–');
/** A table cell: a `|` (even in a code span) would end the cell. */
const cell = (text) => String(text).replaceAll('|', '\\|');
const pct = (f) => (f == null ? '–' : `${Math.round(f * 100)} %`);
const cpu = (ms) => (ms == null ? '–' : `${(ms / 1000).toFixed(1)} s`);
const temp = (b) => (b == null ? '–' : b < 64 * 1024 ? '0' : mib(b));

function goalValue(g, v) {
  if (v == null) return '–';
  return g.unit === 'MB' ? `${Math.round(v)} MB` : x(v);
}

function verdict(met) {
  return met == null ? 'n/a' : met ? '**met**' : '**missed**';
}

export function goalsTable(result) {
  const lines = [
    `| goal | ${result.sizes.map((z) => z.label).join(' | ')} | verdict |`,
    `| --- | ${result.sizes.map(() => '---:').join(' | ')} | --- |`,
  ];
  for (const g of result.goals) {
    lines.push(
            `| ${cell(g.text)} | ${g.values.map((v) => goalValue(g, v)).join(' | ')} | ${g.reference ? `(${verdict(g.met).replace(/\*/g, '')})` : verdict(g.met)} |`,
    );
  }
  return lines.join('\n');
}

function stepsText(m) {
  const e = Object.entries(m.steps ?? {}).filter(([, v]) => v !== undefined);
  return e.map(([k, v]) => `${k.replace(/^stage:/, '')} ${s(v)}`).join(', ');
}

/**
 * The test S3 server runs on the same cores as everything else. Its CPU, spread over all cores,
 * is wall time no backup to it can avoid here; as a share of the limit it says how much of the
 * 1.25× goal it takes up before drbot does anything.
 */
export function s3ServerShare(m, cores) {
  const cpuMs = m.drbotBackup?.s3CpuMs;
  if (!(cpuMs >= 100) || !cores || !m.limitBoth?.ms) return undefined;
  const wallMs = cpuMs / cores;
  return { cpuMs, wallMs, ofLimit: wallMs / m.limitBoth.ms };
}

export function sizeSection(z, previous, cores) {
  const m = z.summary;
  const raw = z.data.dumpBytes + z.data.tarBytes;
  const out = [];
  out.push(`### ${z.label}`);
  out.push('');
  out.push(
    `Data: database \`benchshop\` ${Object.entries(z.data.rows)
      .map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`)
      .join(
        ', ',
      )} rows; \`mariadb-dump\` ${mib(z.data.dumpBytes)} raw (InnoDB ${mib(z.data.innodbBytes)}). ` +
      `Volume: ${z.data.files.toLocaleString('en-US')} files, ${mib(z.data.volumeBytes)} (tar stream ${mib(z.data.tarBytes)}). ` +
      `Generated in ${s(z.data.generateMs)}${previous ? ` (grown from the ${previous.label} data)` : ''}. Median of ${m.drbotBackup?.n ?? '?'} interleaved runs; throughput is raw bytes (dump + tar) per second.`,
  );
  out.push('');
  out.push(
    '| backup | median | range | throughput | × limit | CPU busy | process CPU | peak RSS | temp disk | output |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const key of [
    'limitBoth',
    'limitDump',
    'limitTar',
    'naive',
    'restic',
    'drbotBackup',
    'drbotReadBack',
    'drbotLocal',
    'drbotEncrypted',
  ]) {
    const c = m[key];
    if (!c) continue;
    const bytes = key === 'limitDump' ? z.data.dumpBytes : key === 'limitTar' ? z.data.tarBytes : raw;
    out.push(
      `| ${cell(CONTENDERS[key].label)} | ${s(c.ms)} | ${s(c.minMs)}–${s(c.maxMs)} | ${tput(bytes, c.ms)} | ${key.startsWith('limit') && key !== 'limitBoth' ? '–' : x(ratio(c.ms, m.limitBoth?.ms))} | ${pct(c.cpuBusy)} | ${cpu(c.cpuMs)} | ${rss(c.peakRssKiB)} | ${temp(c.tempBytes)} | ${mib(c.outBytes)} |`,
    );
  }
  if (m.rawRestore || m.drbotRestore) {
    out.push('');
    out.push(
      '| restore | median | range | throughput | × raw | CPU busy | process CPU | peak RSS | temp disk |',
    );
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const key of ['rawRestore', 'drbotRestore']) {
      const c = m[key];
      if (!c) continue;
      out.push(
        `| ${cell(CONTENDERS[key].label)} | ${s(c.ms)} | ${s(c.minMs)}–${s(c.maxMs)} | ${tput(z.data.dumpBytes, c.ms)} | ${x(ratio(c.ms, m.rawRestore?.ms))} | ${pct(c.cpuBusy)} | ${cpu(c.cpuMs)} | ${rss(c.peakRssKiB)} | ${temp(c.tempBytes)} |`,
      );
    }
  }
  const busy = Object.entries(m).filter(([, c]) => c.busy);
  if (busy.length) {
    out.push('');
    out.push(
      `Caution: ${busy.map(([k, c]) => `${c.busy} ${k}`).join(', ')} sample(s) overlapped other Docker activity on this host (measured 3 times, still busy).`,
    );
  }
  out.push('');
  out.push('Where the time goes (medians):');
  out.push('');
  for (const key of [
    'limitBoth',
    'naive',
    'restic',
    'drbotBackup',
    'drbotReadBack',
    'drbotLocal',
    'drbotEncrypted',
    'drbotRestore',
  ]) {
    if (!m[key]) continue;
    // A few ms is s3rver idling, not this contender.
    const extra = m[key].s3CpuMs >= 100 ? `; S3 server (s3rver) CPU ${cpu(m[key].s3CpuMs)}` : '';
    if (Object.keys(m[key].steps ?? {}).length || extra)
      out.push(`* ${CONTENDERS[key].label}: ${stepsText(m[key])}${extra}`);
  }
  const share = s3ServerShare(m, cores);
  if (share) {
    out.push('');
    out.push(
      `The S3 server runs on the same ${cores} cores. Its ${cpu(share.cpuMs)} of CPU during drbot's backup is ${s(share.wallMs)} of all ${cores} cores' time: ${x(share.ofLimit)} of the limit's ${s(m.limitBoth.ms)}, ${share.ofLimit > 0.25 ? 'more than' : 'within'} the 0.25× the 1.25× goal leaves for all of drbot's work.`,
    );
  }
  return out.join('\n');
}

export function markdown(result) {
  const out = [];
  out.push(`# drbot benchmark, ${result.startedAt}`);
  out.push('');
  const mch = result.machine;
  out.push(
    `Machine: ${mch.cpu}, ${mch.cores} cores, ${mch.memGiB} GiB RAM, ${mch.os}, kernel ${mch.kernel}. ` +
      `Node ${mch.node}, Docker ${mch.docker}, ${mch.mariadb}, restic ${mch.restic ?? 'not run'}, igzip ${mch.igzip ?? '?'}${mch.age ? `, age ${mch.age}` : ''}, s3rver ${mch.s3rver} on loopback.`,
  );
  out.push(
    `drbot at ${result.drbot.commit}${result.drbot.dirty ? ' (with uncommitted changes)' : ''}. ` +
      `Options: \`--sizes ${result.options.sizes.join(',')} --repeat ${result.options.repeat} --seed ${result.options.seed}\`` +
      `${result.options.skip.length ? ` \`--skip ${result.options.skip.join(',')}\`` : ''}. Took ${s(result.totalMs)}.`,
  );
  out.push('');
  out.push('## Goals');
  out.push('');
  out.push(goalsTable(result));
  out.push('');
  out.push('## Results');
  out.push('');
  for (const [i, z] of result.sizes.entries()) {
    out.push(sizeSection(z, result.sizes[i - 1], result.machine?.cores));
    out.push('');
  }
  out.push('## Method');
  out.push('');
  out.push(
    [
      '* Same data, same machine; contenders interleaved (rotated every round and reversed every other round, so none always follows the same one) and repeated; medians reported. Before every sample the bench runs `sync`, so no contender pays for writing out what the one before it wrote.',
      '* The limit streams both sources out of their containers (`docker exec … mariadb-dump`, `docker run … tar cf -`) into /dev/null: reading, nothing else.',
      "* Every dump uses drbot's arguments: `--single-transaction --routines --triggers --events --all-databases --hex-blob`.",
      '* restic gets a fresh repository per run (a second run into the same repository would be incremental).',
      "* drbot's S3 copy: by default (`confirm: checksum`) every part goes with its Content-MD5, and the part ETags and the stored size are compared with what was sent. s3rver does not check Content-MD5 and gives a multipart object the MD5 of its whole content, so here the part ETags and the size are what confirm it. The local copy is read back and hashed in every drbot row; the `confirm: read-back` row downloads the S3 copy and hashes it too.",
      "* Peak RSS and process CPU (user + system): GNU time around the process; for drbot the node process of its `drbot` command, run as installed (bin/drbot.js, whose `#!` line sets `--max-semi-space-size=2`; the dump tools and the Docker daemon are not in it); restic: its two processes. CPU busy: share of all cores busy during the run, machine-wide (/proc/stat).",
      `* MariaDB runs with innodb_buffer_pool_size ${result.machine.dbTuning ?? '1 GiB'} (set at start; the image defaults to 128 MiB), the same for every contender.`,
      '* Temp disk: the most extra disk held, sampled every 200 ms, in what a contender writes besides its backup targets (drbot: its TMPDIR and workspace without the backup dir and state; naive: the uncompressed dump file; restic: TMPDIR and cache).',
      "* Restore: the same `.sql.gz` (drbot's artifact) into the same running MariaDB; row counts checked after every restore.",
    ].join('\n'),
  );
  return out.join('\n');
}
