// Seeded, reproducible test data of a given size:
//  - a MariaDB database `benchshop` generated inside the container with SQL (sequence engine
//    tables `seq_A_to_B`, hash functions of (seed, row id)): customers, orders, events (JSON)
//    and attachments (BLOB), with text that compresses like real text;
//  - a Docker volume of mixed files (many small, some medium, a few large; text and
//    incompressible bytes), streamed as a tar from this process into `tar x` in a busybox
//    container.
// Every row and every file is a function of (seed, its index) only, so a bigger size is the
// smaller one plus more rows/files: sizes can be grown in place, and equal inputs give equal data.

import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { once } from 'node:events';
import { BENCH_LABEL, BUSYBOX_IMAGE, dockerExec, NAMES } from './docker.mjs';
import { run } from './proc.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------------------------

const WORDS = (
  'order customer shipping payment invoice refund delivery warehouse package tracking address ' +
  'discount coupon product cart checkout return exchange priority express standard pending ' +
  'confirmed delayed arrived damaged replacement support ticket email phone note please thanks ' +
  'urgent leave at door front back office reception gift wrap fragile handle with care call ' +
  'before after monday friday weekend morning evening the and for from to of in on was is'
).split(' ');
const FIRST =
  'Anna Ben Carla David Elena Felix Greta Hugo Ida Jonas Klara Lukas Mia Noah Olga Paul Rosa Samuel Tara Uwe Vera Willem Xenia Yusuf Zoe Amir Bianca Chen Dana Emil Fatima Gustav'.split(
    ' ',
  );
const LAST =
  'Smith Miller Schmidt Garcia Rossi Novak Kowalski Jensen Dubois Silva Moreau Weber Fischer Wagner Becker Hoffmann Kim Nguyen Tanaka Ivanov Costa Lopez Berg Larsen Horvat Meyer Brown Wilson Taylor Clark Lewis Walker'.split(
    ' ',
  );
const DOMAINS =
  'example.com mail.example.org shop.example.net example.de example.fr post.example.io example.co.uk inbox.example.dev'.split(
    ' ',
  );
const COUNTRIES = 'US DE FR GB IT ES NL PL SE AT CH BE DK NO FI PT'.split(' ');
const STREETS =
  'Main Oak Pine Maple Cedar Elm Lake Hill Park River Station Market Church Mill School Garden'.split(' ');
const STREET_TYPES = 'Street Avenue Road Lane Way Boulevard Court Place'.split(' ');
const CITIES =
  'Berlin Paris London Madrid Rome Vienna Zurich Amsterdam Oslo Lisbon Prague Warsaw Dublin Brussels Copenhagen Helsinki'.split(
    ' ',
  );
const SOURCES = 'api worker scheduler billing mailer search auth cart'.split(' ');
const RESOURCES = 'orders customers products carts payments invoices shipments returns'.split(' ');
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
  'okhttp/4.12.0',
  'curl/8.5.0',
  'python-requests/2.31.0',
  'shop-app/3.14.2 (Android 14)',
];

const q = (s) => `'${s.replaceAll("'", "''")}'`;
/** Byte i (1-based) of binary string expression h, as 0..255. */
const b = (h, i) => `ASCII(SUBSTR(${h},${i},1))`;
/** Unsigned integer from n bytes of h starting at i. */
const u = (h, i, n) => `CONV(HEX(SUBSTR(${h},${i},${n})),16,10)`;
const pick = (list, byteExpr) => `ELT(1 + ${byteExpr} % ${list.length}, ${list.map(q).join(',')})`;
/** Up to `max` words chosen by bytes of h from `offset`; `n` (SQL) of them are used. */
function text(h, n, offset, max) {
  const words = [];
  for (let i = 0; i < max; i++) words.push(`IF(${n} > ${i}, ${pick(WORDS, b(h, offset + i))}, NULL)`);
  return `CONCAT_WS(' ', ${words.join(', ')})`;
}

const SCHEMA = `
CREATE DATABASE IF NOT EXISTS benchshop;
USE benchshop;
CREATE TABLE IF NOT EXISTS customers (
  id INT UNSIGNED PRIMARY KEY,
  uuid CHAR(36) NOT NULL,
  first_name VARCHAR(40) NOT NULL,
  last_name VARCHAR(40) NOT NULL,
  email VARCHAR(120) NOT NULL,
  country CHAR(2) NOT NULL,
  birth_date DATE NULL,
  created_at DATETIME NOT NULL,
  balance DECIMAL(12,2) NOT NULL,
  score DOUBLE NOT NULL,
  is_active TINYINT(1) NOT NULL,
  bio TEXT NULL,
  KEY idx_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS orders (
  id BIGINT UNSIGNED PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  status ENUM('new','paid','shipped','delivered','cancelled','refunded') NOT NULL,
  currency CHAR(3) NOT NULL,
  total DECIMAL(12,2) NOT NULL,
  items SMALLINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL,
  shipped_at DATETIME NULL,
  shipping_address VARCHAR(255) NOT NULL,
  note TEXT NULL,
  KEY idx_customer (customer_id),
  KEY idx_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS events (
  id BIGINT UNSIGNED PRIMARY KEY,
  occurred_at TIMESTAMP(6) NOT NULL,
  level ENUM('debug','info','warn','error') NOT NULL,
  source VARCHAR(32) NOT NULL,
  trace_id CHAR(32) NOT NULL,
  payload JSON NOT NULL,
  KEY idx_occurred (occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS attachments (
  id INT UNSIGNED PRIMARY KEY,
  order_id BIGINT UNSIGNED NOT NULL,
  file_name VARCHAR(120) NOT NULL,
  mime VARCHAR(40) NOT NULL,
  sha1 CHAR(40) NOT NULL,
  content MEDIUMBLOB NOT NULL,
  KEY idx_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE OR REPLACE VIEW daily_revenue AS
  SELECT DATE(created_at) AS day, currency, SUM(total) AS revenue, COUNT(*) AS orders FROM orders GROUP BY 1, 2;
DROP PROCEDURE IF EXISTS customer_orders;
CREATE PROCEDURE customer_orders(IN cid INT UNSIGNED) SELECT * FROM orders WHERE customer_id = cid ORDER BY created_at;
`;

/** One INSERT … SELECT per table, for rows a..b; everything is a function of (seed, seq). */
function insertSql(table, seed, a, z) {
  const src = (cols) => `FROM (SELECT seq, ${cols} FROM seq_${a}_to_${z}) AS s`;
  const H = (tag) => `UNHEX(MD5(CONCAT('${seed}:${tag}:', seq)))`;
  const G = (tag) => `UNHEX(SHA2(CONCAT('${seed}:${tag}:', seq), 512))`;
  switch (table) {
    case 'customers':
      return `INSERT INTO customers SELECT seq,
  CONCAT_WS('-', SUBSTR(m,1,8), SUBSTR(m,9,4), SUBSTR(m,13,4), SUBSTR(m,17,4), SUBSTR(m,21,12)),
  ${pick(FIRST, b('h', 1))}, ${pick(LAST, b('h', 2))},
  CONCAT(LOWER(${pick(FIRST, b('h', 1))}), '.', LOWER(${pick(LAST, b('h', 2))}), seq, '@', ${pick(DOMAINS, b('h', 3))}),
  ${pick(COUNTRIES, b('h', 4))},
  IF(${b('h', 5)} % 10 = 0, NULL, DATE '1950-01-01' + INTERVAL (${u('h', 6, 2)} % 20000) DAY),
  TIMESTAMP '2018-01-01 00:00:00' + INTERVAL (seq * 47 + ${b('h', 8)}) SECOND,
  (${u('h', 9, 3)} % 2000000) / 100 - 1000,
  ${u('h', 12, 4)} / 42949672.96,
  ${b('h', 16)} % 10 < 8,
  IF(${b('h', 16)} % 3 = 0, NULL, ${text('g', `8 + ${b('h', 7)} % 32`, 1, 40)})
${src(`${H('c')} AS h, ${G('cb')} AS g, MD5(CONCAT('${seed}:cu:', seq)) AS m`)}`;
    case 'orders': {
      const created = `(TIMESTAMP '2019-01-01 00:00:00' + INTERVAL (seq * 13000000 + ${b('h', 10)} * 3900) MICROSECOND)`;
      return `INSERT INTO orders SELECT seq,
  1 + ${u('h', 1, 3)} % (1 + seq DIV 5),
  ELT(1 + ${b('h', 4)} % 6, 'new','paid','shipped','delivered','cancelled','refunded'),
  ELT(1 + ${b('h', 5)} % 4, 'EUR','USD','GBP','CHF'),
  (${u('h', 6, 3)} % 500000) / 100 + 1,
  1 + ${b('h', 9)} % 12,
  ${created},
  IF(${b('h', 4)} % 6 >= 2, ${created} + INTERVAL (1 + ${b('h', 12)} % 96) HOUR, NULL),
  CONCAT(1 + ${b('h', 13)} % 250, ' ', ${pick(STREETS, b('h', 14))}, ' ', ${pick(STREET_TYPES, b('h', 15))}, ', ',
         LPAD(${u('g', 60, 2)} % 99999, 5, '0'), ' ', ${pick(CITIES, b('h', 16))}),
  IF(${b('g', 1)} % 4 = 0, NULL, ${text('g', `4 + ${b('g', 2)} % 28`, 3, 32)})
${src(`${H('o')} AS h, ${G('on')} AS g`)}`;
    }
    case 'events':
      return `INSERT INTO events SELECT seq,
  TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (seq * 250000 + ${b('h', 1)} * 900) MICROSECOND,
  ELT(1 + (${b('h', 2)} % 20 >= 6) + (${b('h', 2)} % 20 >= 16) + (${b('h', 2)} % 20 >= 19), 'debug','info','warn','error'),
  ${pick(SOURCES, b('h', 3))},
  m,
  JSON_OBJECT(
    'user_id', 1 + ${u('h', 4, 3)} % 200000,
    'session', SUBSTR(m, 1, 16),
    'method', ELT(1 + ${b('h', 7)} % 4, 'GET','GET','POST','PUT'),
    'path', CONCAT('/api/v2/', ${pick(RESOURCES, b('h', 8))}, '/', ${u('h', 9, 2)}),
    'status', 0 + ELT(1 + ${b('h', 11)} % 10, 200,200,200,200,201,204,304,400,404,500),
    'duration_ms', ${b('h', 12)} + ${b('h', 13)} * 4,
    'ip', CONCAT('10.', ${b('h', 14)}, '.', ${b('h', 15)}, '.', ${b('h', 16)}),
    'user_agent', ${pick(AGENTS, b('g', 1))},
    'message', ${text('g', `6 + ${b('g', 2)} % 18`, 3, 24)})
${src(`${H('e')} AS h, ${G('em')} AS g, MD5(CONCAT('${seed}:et:', seq)) AS m`)}`;
    case 'attachments': {
      const blocks = Array.from({ length: 8 }, (_, j) => `UNHEX(SHA2(CONCAT('${seed}:a${j}:', seq), 512))`);
      return `INSERT INTO attachments SELECT seq,
  1 + ${u('h', 1, 3)} % (1 + seq * 8),
  CONCAT(${pick(WORDS, b('h', 4))}, '-', seq, '.', ELT(1 + ${b('h', 5)} % 4, 'png','jpg','pdf','webp')),
  ELT(1 + ${b('h', 5)} % 4, 'image/png','image/jpeg','application/pdf','image/webp'),
  SHA1(CONCAT('${seed}:ab:', seq)),
  LEFT(CONCAT(${blocks.join(', ')}), 128 + ${b('h', 6)} * 3)
${src(`${H('a')} AS h`)}`;
    }
    default:
      throw new Error(`unknown table ${table}`);
  }
}

/** Share of the target dump size per table. */
const TABLE_SHARES = { customers: 0.1, orders: 0.4, events: 0.4, attachments: 0.1 };
const CALIBRATION_ROWS = 2000;
const BATCH_ROWS = 100_000;

async function sql(env, text) {
  return dockerExec(NAMES.db, ['mariadb', '-uroot', '-N', '-B'], { env, input: text });
}

async function maxId(env, table) {
  return Number((await sql(env, `SELECT COALESCE(MAX(id), 0) FROM benchshop.${table};`)).trim());
}

async function insertRange(env, table, seed, from, to, onProgress) {
  for (let a = from; a <= to; a += BATCH_ROWS) {
    const z = Math.min(to, a + BATCH_ROWS - 1);
    await sql(
      env,
      `USE benchshop;\nSET SESSION optimizer_switch='derived_merge=off';\n${insertSql(table, seed, a, z)};`,
    );
    onProgress?.(table, z, to);
  }
}

/**
 * Grows `benchshop` to about `targetBytes` of `mariadb-dump` output (rows are only added, so
 * call with increasing targets). Returns rows per table.
 */
export async function generateDatabase({ env, seed, targetBytes, log }) {
  await sql(env, SCHEMA);
  const rows = {};
  for (const [table, share] of Object.entries(TABLE_SHARES)) {
    let have = await maxId(env, table);
    if (have < CALIBRATION_ROWS) {
      await insertRange(env, table, seed, have + 1, CALIBRATION_ROWS);
      have = CALIBRATION_ROWS;
    }
    // Dump bytes per row, measured on the first rows (the same rows for every size and run).
    const sample = await dockerExec(
      NAMES.db,
      [
        'sh',
        '-c',
        'mariadb-dump -uroot --hex-blob --skip-comments --where="id <= $2" benchshop "$1" | wc -c',
        'sh',
        table,
        String(CALIBRATION_ROWS),
      ],
      { env },
    );
    const perRow = Number(sample.trim()) / CALIBRATION_ROWS;
    const want = Math.max(CALIBRATION_ROWS, Math.round((share * targetBytes) / perRow));
    if (want > have) {
      log?.(`  ${table}: ${have} → ${want} rows (~${Math.round(perRow)} dump bytes/row)`);
      let lastPct = -1;
      await insertRange(env, table, seed, have + 1, want, (_t, done, to) => {
        const pct = Math.floor((done / to) * 4) * 25;
        if (pct !== lastPct && pct < 100 && to - have > 4 * BATCH_ROWS) log?.(`    ${table} ${pct}%`);
        lastPct = pct;
      });
    }
    rows[table] = Math.max(want, have);
  }
  return rows;
}

/** Rows per table (what a restore must bring back). */
export async function tableCounts(env) {
  const out = await sql(
    env,
    Object.keys(TABLE_SHARES)
      .map((t) => `SELECT '${t}', COUNT(*) FROM benchshop.${t};`)
      .join('\n'),
  );
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .map(([t, n]) => [t, Number(n)]),
  );
}

/** InnoDB bytes (data + indexes) of benchshop. */
export async function innodbBytes(env) {
  return Number(
    (
      await sql(
        env,
        "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = 'benchshop';",
      )
    ).trim(),
  );
}

// ---------------------------------------------------------------------------------------------
// Volume
// ---------------------------------------------------------------------------------------------

/** Byte share, size range and share of incompressible files per class. */
const FILE_CLASSES = [
  {
    name: 'small',
    share: 0.15,
    min: 512,
    max: 24 * KiB,
    randomShare: 0.3,
    text: ['json', 'html', 'md', 'csv', 'log'],
  },
  {
    name: 'medium',
    share: 0.35,
    min: 64 * KiB,
    max: 2 * MiB,
    randomShare: 0.4,
    text: ['log', 'csv', 'json'],
  },
  { name: 'large', share: 0.5, min: 4 * MiB, max: 32 * MiB, randomShare: 0.5, text: ['log', 'csv'] },
];
const RANDOM_EXT = ['jpg', 'png', 'pdf', 'zip', 'mp4', 'webp'];

/** sfc32, seeded from sha256(key): small, fast and good enough for test data. */
function rngFor(key) {
  const d = createHash('sha256').update(key).digest();
  let a = d.readUInt32LE(0);
  let bb = d.readUInt32LE(4);
  let c = d.readUInt32LE(8);
  let e = d.readUInt32LE(12);
  const next = () => {
    const t = (((a + bb) | 0) + e) | 0;
    e = (e + 1) | 0;
    a = bb ^ (bb >>> 9);
    bb = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return { next, digest: d };
}

/** File i of a class: its path, size and kind, from (seed, class, i) only. */
function fileSpec(seed, cls, i) {
  const rng = rngFor(`${seed}:file:${cls.name}:${i}`);
  const size = Math.round(Math.exp(Math.log(cls.min) + rng.next() * (Math.log(cls.max) - Math.log(cls.min))));
  const random = rng.next() < cls.randomShare;
  const kind = random ? 'random' : cls.text[Math.floor(rng.next() * cls.text.length)];
  const ext = random ? RANDOM_EXT[Math.floor(rng.next() * RANDOM_EXT.length)] : kind;
  const dir = `${cls.name}/${String(Math.floor(i / 500)).padStart(3, '0')}`;
  return { dir, path: `${dir}/${cls.name}-${String(i).padStart(6, '0')}.${ext}`, size, kind, rng };
}

const pad = (n, w) => String(n).padStart(w, '0');

/** Lines of text like the kind of file they are in; returns a generator of Buffers. */
function* textChunks(kind, rng, size) {
  const r = rng.next;
  const int = (n) => Math.floor(r() * n);
  const word = () => WORDS[int(WORDS.length)];
  const words = (n) => Array.from({ length: n }, word).join(' ');
  let t = Date.UTC(2026, 0, 1) + int(86_400_000 * 300);
  let id = 1 + int(1_000_000);
  const line = () => {
    t += 1 + int(900);
    id += 1;
    switch (kind) {
      case 'log':
        return `${new Date(t).toISOString()} ${['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'][int(6)]} [${SOURCES[int(8)]}-${int(8)}] ${['GET', 'GET', 'POST', 'PUT'][int(4)]} /api/v2/${RESOURCES[int(8)]}/${int(100000)} ${[200, 200, 200, 201, 204, 304, 400, 404, 500][int(9)]} ${1 + int(900)}ms user=${int(200000)} trace=${pad(int(1e8).toString(16), 8)}\n`;
      case 'csv':
        return `${id},${new Date(t).toISOString().slice(0, 10)},${['new', 'paid', 'shipped', 'delivered', 'cancelled'][int(5)]},${['EUR', 'USD', 'GBP'][int(3)]},${(int(50000) / 100).toFixed(2)},"${words(2 + int(8))}"\n`;
      case 'json':
        return `{"id":${id},"name":"${FIRST[int(32)]} ${LAST[int(32)]}","enabled":${r() < 0.8},"tags":["${word()}","${word()}"],"limits":{"rps":${10 * (1 + int(50))},"burst":${int(500)}},"updated":"${new Date(t).toISOString()}"}\n`;
      case 'html':
        return `<div class="item"><a href="/products/${id}">${words(2 + int(4))}</a><span class="price">${(int(50000) / 100).toFixed(2)}</span></div>\n`;
      default:
        return `- ${words(4 + int(12))}\n`;
    }
  };
  let left = size;
  let pending = '';
  while (left > 0) {
    while (pending.length < 64 * KiB && pending.length < left) pending += line();
    const buf = Buffer.from(pending.slice(0, Math.min(left, 64 * KiB)), 'latin1');
    pending = pending.slice(buf.length);
    left -= buf.length;
    yield buf;
  }
}

/** Incompressible bytes: AES-128-CTR keystream keyed by the file's seed. */
function* randomChunks(rng, size) {
  const cipher = createCipheriv('aes-128-ctr', rng.digest.subarray(0, 16), rng.digest.subarray(16, 32));
  const zeros = Buffer.alloc(256 * KiB);
  for (let left = size; left > 0; left -= zeros.length) {
    yield cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  }
}

function tarHeader(name, size, type) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(type === '5' ? '0000755\0' : '0000644\0', 100);
  h.write('0001750\0', 108); // uid 1000
  h.write('0001750\0', 116); // gid 1000
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(
    `${Math.floor(Date.UTC(2026, 0, 1) / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('app', 265);
  h.write('app', 297);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** The files of one class for a volume of `targetBytes`, skipping those a `fromBytes` volume has. */
function* planClass(seed, cls, fromBytes, targetBytes) {
  const budget = Math.round(cls.share * targetBytes);
  const prev = Math.round(cls.share * fromBytes);
  let cum = 0;
  for (let i = 0; cum < budget; i++) {
    const spec = fileSpec(seed, cls, i);
    const len = Math.min(spec.size, budget - cum);
    const before = cum;
    cum += len;
    // Files wholly inside the previous volume are already there, byte for byte.
    if (before + len <= prev) continue;
    yield { ...spec, size: len };
  }
}

/**
 * Grows the volume to `targetBytes` of file data (from `fromBytes`, 0 for an empty volume):
 * a tar stream generated here is extracted by `tar x` in a busybox container.
 */
export async function generateVolume({ seed, fromBytes = 0, targetBytes, log }) {
  const child = spawn(
    'docker',
    [
      'run',
      '-i',
      '--rm',
      '--log-driver',
      'none',
      '--label',
      BENCH_LABEL,
      '-v',
      `${NAMES.files}:/data`,
      BUSYBOX_IMAGE,
      'tar',
      'xf',
      '-',
      '-C',
      '/data',
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d.toString();
  });
  const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  let failed = false;
  child.stdin.on('error', () => {
    failed = true;
  });
  const write = async (buf) => {
    if (failed) throw new Error(`tar x in the volume stopped: ${stderr.trim()}`);
    if (!child.stdin.write(buf)) await Promise.race([once(child.stdin, 'drain'), exited]);
  };
  const dirs = new Set();
  let files = 0;
  let bytes = 0;
  for (const cls of FILE_CLASSES) {
    for (const f of planClass(seed, cls, fromBytes, targetBytes)) {
      for (const d of [cls.name, f.dir]) {
        if (!dirs.has(d)) {
          dirs.add(d);
          await write(tarHeader(`${d}/`, 0, '5'));
        }
      }
      await write(tarHeader(f.path, f.size, '0'));
      const chunks = f.kind === 'random' ? randomChunks(f.rng, f.size) : textChunks(f.kind, f.rng, f.size);
      for (const c of chunks) await write(c);
      if (f.size % 512) await write(Buffer.alloc(512 - (f.size % 512)));
      files += 1;
      bytes += f.size;
    }
  }
  await write(Buffer.alloc(1024));
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`tar x into ${NAMES.files} exited with ${code}: ${stderr.trim()}`);
  log?.(`  volume: wrote ${files} file(s), ${(bytes / MiB).toFixed(1)} MiB`);
  return { filesWritten: files, bytesWritten: bytes };
}

/** Files and bytes in the volume as it now is (for the report). */
export async function volumeStats() {
  const res = await run('docker', [
    'run',
    '--rm',
    '--log-driver',
    'none',
    '--label',
    BENCH_LABEL,
    '-v',
    `${NAMES.files}:/data:ro`,
    BUSYBOX_IMAGE,
    'sh',
    '-c',
    'echo "$(find /data -type f | wc -l) $(du -sk /data | cut -f1)"',
  ]);
  const [files, kib] = res.stdout.trim().split(/\s+/).map(Number);
  return { files, diskBytes: kib * 1024 };
}
