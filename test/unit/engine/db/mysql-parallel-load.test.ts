import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { DbTarget } from '../../../../src/engine/db/db-restore.js';
import { MysqlParallelLoader, SqlSession } from '../../../../src/engine/db/mysql-parallel-load.js';
import { AppError } from '../../../../src/errors.js';
import type { ContainerRuntime, ExecOptions, ExecResult } from '../../../../src/ports/container-runtime.js';

/** One line a fake client ran, in the order the fake server ran them across all sessions. */
interface Ran {
  session: number;
  line: string;
}

/**
 * A fake `mariadb` client per exec: it runs its stdin line by line, answers drbot's sync
 * queries on stdout, and can be slow (row lines of the other sessions, or the first session's
 * other lines, take a timer tick, so one lags the other as busy server threads do) or fail on
 * a line.
 */
function fakeServer(opts: { slowOthers?: boolean; slowFirst?: boolean; failOn?: string } = {}) {
  const ran: Ran[] = [];
  const received: string[] = [];
  const cmds: string[][] = [];
  const envs: string[][] = [];
  let sessions = 0;
  const runtime = {
    async execStream(_container: string, o: ExecOptions) {
      const id = sessions++;
      cmds.push(o.cmd);
      envs.push(o.env ?? []);
      received[id] = '';
      const stdout = new PassThrough();
      const stdin = o.stdin as Readable;
      const done = (async (): Promise<ExecResult> => {
        let partial = '';
        for await (const chunk of stdin) {
          const text = partial + (chunk as Buffer).toString('utf8');
          received[id] += (chunk as Buffer).toString('utf8');
          const lines = text.split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) {
            if (opts.slowOthers && id > 0 && line.startsWith('(')) await new Promise((r) => setTimeout(r, 1));
            if (opts.slowFirst && id === 0 && !line.startsWith('('))
              await new Promise((r) => setTimeout(r, 1));
            if (opts.failOn && line.includes(opts.failOn)) {
              stdin.destroy();
              stdout.end();
              return {
                exitCode: 1,
                stderrTail: `ERROR 1062 (23000) at line 9: Duplicate entry for ${opts.failOn}\n`,
              };
            }
            const sync = /^SELECT '(drbot-load-sync-[0-9a-f]+-\d+)';$/.exec(line);
            if (sync) stdout.write(`${sync[1]}\n`);
            else ran.push({ session: id, line });
          }
        }
        stdout.end();
        return { exitCode: 0, stderrTail: '' };
      })();
      return { stdout, done };
    },
  } as unknown as ContainerRuntime;
  const target: DbTarget = {
    runtime,
    container: 'db',
    engine: 'mariadb',
    user: 'root',
    password: 's3cret-pw',
    asset: 'shop-db',
  };
  return { ran, received, cmds, envs, target, count: () => sessions };
}

const HEADER = `/*M!999999\\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.18-MariaDB
--

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
`;

function table(name: string, statements: number, rowsPer: number, start = 1): string {
  const inserts: string[] = [];
  let id = start;
  for (let s = 0; s < statements; s++) {
    const rows: string[] = [];
    // A value with a semicolon and a quote inside, as a dump escapes them.
    for (let r = 0; r < rowsPer; r++, id++) rows.push(`(${id},'${name};${id} it\\'s; fine')`);
    inserts.push(`INSERT INTO \`${name}\` VALUES\n${rows.join(',\n')};`);
  }
  return `
--
-- Table structure for table \`${name}\`
--

DROP TABLE IF EXISTS \`${name}\`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
CREATE TABLE \`${name}\` (
  \`id\` int NOT NULL,
  \`v\` varchar(40) NOT NULL,
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table \`${name}\`
--

LOCK TABLES \`${name}\` WRITE;
/*!40000 ALTER TABLE \`${name}\` DISABLE KEYS */;
${inserts.join('\n')}
/*!40000 ALTER TABLE \`${name}\` ENABLE KEYS */;
UNLOCK TABLES;
`;
}

const TRIGGER = `/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER \`orders_log\` AFTER INSERT ON \`orders\` FOR EACH ROW
INSERT INTO \`audit_log\` VALUES
(NEW.id, 'trigger body;') */;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
`;

const DUMP = `${HEADER}
CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`shop\`;

USE \`shop\`;
${table('audit', 1, 2)}${table('orders', 40, 25)}${TRIGGER}${table('customers', 30, 10)}
CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`crm\`;

USE \`crm\`;
${table('notes', 12, 5)}
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;

-- Dump completed
`;

/** The dump in pieces of `size` bytes (1 byte splits every line and every statement). */
function chunks(text: string, size: number): Readable {
  const buf = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

async function load(
  dump: string,
  sessions: number,
  size: number,
  opts: Parameters<typeof fakeServer>[0] = {},
) {
  const server = fakeServer(opts);
  const loader = new MysqlParallelLoader(
    (label) => SqlSession.open(server.target, 'mariadb', label),
    sessions,
  );
  await pipeline(chunks(dump, size), loader);
  return { ...server, loader };
}

/** INSERT statements (with their rows) as sent, per session. */
function inserts(text: string): string[] {
  return [...text.matchAll(/^INSERT INTO [^\n]*\n(?:\(.*\n)*?\(.*;$/gm)].map((m) => m[0]);
}

const stripSync = (text: string) => text.replace(/^SELECT 'drbot-load-sync-[0-9a-f]+-\d+';\n/gm, '');

describe('MysqlParallelLoader', () => {
  it('spreads the row inserts over the sessions and sends everything else to the first, in order', async () => {
    const { received, loader, count } = await load(DUMP, 3, 64 * 1024, { slowOthers: true });
    expect(count()).toBe(3);
    expect(loader.sessionsUsed).toBe(3);
    const all = inserts(DUMP);
    const got = received.flatMap((r) => inserts(r));
    expect(got.sort()).toEqual([...all].sort());
    for (const r of received.slice(1)) expect(inserts(r).length).toBeGreaterThan(0);
    // The first session's stream is the dump without LOCK/UNLOCK TABLES and the rows sent away.
    let expected = DUMP.replace(/^(LOCK TABLES `[^`]+` WRITE|UNLOCK TABLES);\n/gm, '');
    for (const r of received.slice(1))
      for (const stmt of inserts(r)) expected = expected.replace(`${stmt}\n`, '');
    expect(stripSync(received[0] as string)).toBe(expected);
  });

  it('gives every other session the header and the database in use before its rows', async () => {
    const { received } = await load(DUMP, 2, 64 * 1024);
    const other = received[1] as string;
    expect(other.startsWith(HEADER)).toBe(true);
    const firstInsert = other.indexOf('INSERT INTO');
    expect(other.lastIndexOf('USE `shop`;', firstInsert)).toBeGreaterThan(0);
    const notes = other.indexOf('INSERT INTO `notes`');
    if (notes >= 0)
      expect(other.lastIndexOf('USE `crm`;', notes)).toBeGreaterThan(other.lastIndexOf('USE `shop`;', notes));
    expect(other).not.toMatch(/LOCK TABLES|CREATE TABLE|DROP TABLE|TRIGGER/);
  });

  it.each([{ slowOthers: true }, { slowFirst: true }])(
    'runs rows only after their CREATE TABLE, and what follows them only after all of them (%o)',
    async (slow) => {
      const { ran } = await load(DUMP, 3, 4096, slow);
      const at = (pred: (r: Ran) => boolean) => ran.flatMap((r, i) => (pred(r) ? [i] : []));
      for (const t of ['audit', 'orders', 'customers', 'notes']) {
        const created = at((r) => r.line.startsWith(`CREATE TABLE \`${t}\``));
        const enabled = at((r) => r.line.includes(`ALTER TABLE \`${t}\` ENABLE KEYS`));
        const rows = at((r) => r.line.startsWith('(') && r.line.includes(`'${t};`));
        expect(created).toHaveLength(1);
        expect(enabled).toHaveLength(1);
        expect(rows.length).toBeGreaterThan(0);
        expect(Math.min(...rows), t).toBeGreaterThan(created[0] as number);
        expect(Math.max(...rows), t).toBeLessThan(enabled[0] as number);
      }
      // The rows of orders really ran in more than one session.
      const orderSessions = new Set(ran.filter((r) => r.line.includes("'orders;")).map((r) => r.session));
      expect(orderSessions.size).toBeGreaterThan(1);
      // The trigger is created after every row of its table ran, and its body (which has a line
      // starting with INSERT INTO) stays whole in the first session.
      const trigger = at((r) => r.line.includes('TRIGGER `orders_log`'));
      expect(trigger).toHaveLength(1);
      expect(Math.max(...at((r) => r.line.includes("'orders;")))).toBeLessThan(trigger[0] as number);
      const body = ran.filter(
        (r) => r.line.startsWith('INSERT INTO `audit_log`') || r.line.includes('trigger body'),
      );
      expect(body.map((r) => r.session)).toEqual([0, 0]);
    },
  );

  it('sends the same statements wherever the dump is cut into chunks', async () => {
    const sizes = [1, 7, 100, 1023, 1024, 1025, 64 * 1024];
    for (const size of sizes) {
      const { received } = await load(DUMP, 2, size);
      const got = received.flatMap((r) => inserts(r)).sort();
      expect(got, `chunks of ${size}`).toEqual(inserts(DUMP).sort());
      let expected = DUMP.replace(/^(LOCK TABLES `[^`]+` WRITE|UNLOCK TABLES);\n/gm, '');
      for (const stmt of inserts(received[1] as string)) expected = expected.replace(`${stmt}\n`, '');
      expect(stripSync(received[0] as string), `chunks of ${size}`).toBe(expected);
    }
  });

  it('handles a statement longer than the classification window, on one line', async () => {
    const big = `(1,'${'x'.repeat(5000)};'),(2,'b')`;
    const dump = `${HEADER}USE \`shop\`;\nLOCK TABLES \`t\` WRITE;\nINSERT INTO \`t\` VALUES ${big};\nINSERT INTO \`t\` VALUES (3,'c');\nUNLOCK TABLES;\n`;
    const { received } = await load(dump, 2, 300);
    const all = received.map(stripSync).join('');
    expect(all).toContain(`INSERT INTO \`t\` VALUES ${big};\n`);
    expect(all).toContain("INSERT INTO `t` VALUES (3,'c');\n");
  });

  it('runs a dump without data sections in one session', async () => {
    const dump = `${HEADER}USE \`shop\`;\nINSERT INTO \`t\` VALUES (1,'a');\nINSERT INTO \`t\` VALUES (2,'b');\n`;
    const { received, count, loader } = await load(dump, 4, 64 * 1024);
    expect(count()).toBe(1);
    expect(loader.sessionsUsed).toBe(1);
    expect(stripSync(received[0] as string)).toBe(dump);
  });

  it('uses batch output and the exec environment for the password, never argv', async () => {
    const { cmds, envs } = await load(DUMP, 2, 64 * 1024);
    for (const cmd of cmds) {
      expect(cmd).toEqual(
        expect.arrayContaining(['mariadb', '--user=root', '--batch', '--skip-column-names', '--unbuffered']),
      );
      expect(cmd.join(' ')).not.toContain('s3cret-pw');
    }
    for (const env of envs) expect(env).toEqual(['MYSQL_PWD=s3cret-pw']);
  });

  it('fails with the failing session and its error when a session stops', async () => {
    // Row 500 is in the orders table, which is spread over both sessions.
    const server = fakeServer({ failOn: "(500,'orders;500 " });
    const loader = new MysqlParallelLoader((label) => SqlSession.open(server.target, 'mariadb', label), 2);
    const err = await pipeline(chunks(DUMP, 512), loader).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/mariadb in container db exited with code 1 while loading the dump$/);
    expect(e.stderrTail).toContain('Duplicate entry');
    expect(e.stderrTail).toMatch(
      /\(in load session [12] of 2: line numbers count from the start of that session's input/,
    );
  });
});
