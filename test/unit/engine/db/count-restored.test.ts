// Row counts after a load: names reach the server only quoted by its engine's rules, never as psql meta-commands.
import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DbEngine } from '../../../../src/domain/assets.js';
import type { DumpContents, DumpTable } from '../../../../src/engine/db/db-clients.js';
import { checkRestored, countRestored } from '../../../../src/engine/db/db-restore.js';
import { tableLabel } from '../../../../src/engine/db/identifiers.js';
import type { ContainerRuntime, ExecOptions } from '../../../../src/ports/container-runtime.js';

interface Call {
  cmd: string[];
  script: string;
}

/** A runtime whose SQL client answers each script with `answer(cmd, script)`. */
function scriptedRuntime(answer: (cmd: string[], script: string) => string) {
  const calls: Call[] = [];
  const read = async (s: Readable | undefined) => {
    let text = '';
    for await (const c of s ?? []) text += String(c);
    return text;
  };
  const runtime = {
    exec: async () => ({ exitCode: 0, stdout: 'client 1.0', stderrTail: '' }),
    execStream: async (_container: string, o: ExecOptions) => {
      const stdout = new PassThrough();
      const done = read(o.stdin).then((script) => {
        calls.push({ cmd: o.cmd, script });
        stdout.end(answer(o.cmd, script));
        return { exitCode: 0, stderrTail: '' };
      });
      return { stdout, done };
    },
  } as unknown as ContainerRuntime;
  return { runtime, calls };
}

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

function contentsOf(
  engine: DbEngine,
  tables: Array<Omit<DumpTable, 'rows'> & { rows: number }>,
): DumpContents {
  return {
    databases: new Set(tables.map((t) => t.db)),
    tables: new Map(tables.map((t) => [tableLabel(engine, t), t])),
  };
}

/** Answers `SELECT 'tN', count(*) …` lines with (N + 1) * 10 rows and the database list in hex. */
function answerer(databases: string[]) {
  return (_cmd: string[], script: string) =>
    script
      .split('\n')
      .flatMap((line) => {
        if (line.startsWith("SELECT 'db'")) return databases.map((d) => `db\t${hex(d)}`);
        const m = /^SELECT 't(\d+)'/.exec(line);
        return m ? [`t${m[1]}\t${(Number(m[1]) + 1) * 10}`] : [];
      })
      .join('\n');
}

const EVIL_DB = `Ünï "q" 'x'; \\! touch /tmp/pwned`;

describe('countRestored', () => {
  it('connects to each PostgreSQL database with --dbname in argv and sends only quoted SQL', async () => {
    const contents = contentsOf('postgres', [
      { db: 'shop-db', schema: 'public', table: 'Order Items', rows: 10 },
      { db: EVIL_DB, schema: 'Sales "EU"', table: 't;\\! touch /tmp/pwned2', rows: 20 },
    ]);
    const { runtime, calls } = scriptedRuntime(answerer(['postgres', 'shop-db', EVIL_DB]));
    const t = {
      runtime,
      container: 'scratch',
      engine: 'postgres' as const,
      user: 'postgres',
      password: 'pw',
      asset: 'pg',
    };

    const found = await countRestored(t, contents);

    expect(calls.map((c) => c.cmd[c.cmd.indexOf('--dbname') + 1])).toEqual([
      'postgres',
      "dbname='shop-db'",
      `dbname='Ünï "q" \\'x\\'; \\\\! touch /tmp/pwned'`,
    ]);
    for (const c of calls) expect(c.script.split('\n').filter((l) => l.startsWith('\\'))).toEqual([]);
    expect(calls[1]?.script).toBe(`SELECT 't0', count(*) FROM "public"."Order Items";\n`);
    expect(calls[2]?.script).toBe(`SELECT 't1', count(*) FROM "Sales ""EU"""."t;\\! touch /tmp/pwned2";\n`);
    expect(found.databases).toEqual(new Set(['postgres', 'shop-db', EVIL_DB]));
    expect([...found.rows.values()]).toEqual([10, 20]);
    expect(checkRestored('postgres', contents, found)).toEqual([]);
  });

  it('counts MySQL tables in one session with backticked names and reads database names from hex', async () => {
    const db = `we\`ird "q" 'x'; \\! touch /tmp/pwned ü`;
    const contents = contentsOf('mariadb', [
      { db, schema: undefined, table: 'Order Items; \\! x', rows: 1 },
      { db, schema: undefined, table: 'back\\slash\\', rows: 1 },
    ]);
    const { runtime, calls } = scriptedRuntime(answerer(['mysql', db]));
    const t = {
      runtime,
      container: 'scratch',
      engine: 'mariadb' as const,
      user: 'root',
      password: 'pw',
      asset: 'my',
    };

    const found = await countRestored(t, contents);

    expect(calls).toHaveLength(2);
    expect(calls[1]?.script).toBe(
      [
        "SELECT 't0', count(*) FROM `we``ird \"q\" 'x'; \\! touch /tmp/pwned ü`.`Order Items; \\! x`;",
        "SELECT 't1', count(*) FROM `we``ird \"q\" 'x'; \\! touch /tmp/pwned ü`.`back\\slash\\`;",
        '',
      ].join('\n'),
    );
    expect(found.databases.has(db)).toBe(true);
    expect(checkRestored('mariadb', contents, found)).toEqual([]);
  });

  it('reports a missing database once, without trying to count its tables', async () => {
    const contents = contentsOf('postgres', [{ db: 'shop-db', schema: 'public', table: 'items', rows: 3 }]);
    const { runtime, calls } = scriptedRuntime(answerer(['postgres']));
    const t = {
      runtime,
      container: 'scratch',
      engine: 'postgres' as const,
      user: 'postgres',
      password: 'pw',
      asset: 'pg',
    };

    const found = await countRestored(t, contents);

    expect(calls).toHaveLength(1);
    expect(checkRestored('postgres', contents, found)).toEqual(['database "shop-db" is missing']);
  });
});
