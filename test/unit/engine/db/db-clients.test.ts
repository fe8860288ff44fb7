import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DumpAnalyzer, PgRestoreFilter } from '../../../../src/engine/db/db-clients.js';

async function through(chunks: string[], t: NodeJS.ReadWriteStream): Promise<string> {
  let out = '';
  await pipeline(
    Readable.from(chunks.map((c) => Buffer.from(c))),
    t,
    new Writable({
      write(c: Buffer, _e, cb) {
        out += c.toString();
        cb();
      },
    }),
  );
  return out;
}

/** Rows per table key, as a plain object. */
function rowsOf(a: DumpAnalyzer): Record<string, number> {
  return Object.fromEntries([...a.contents.tables].map(([k, t]) => [k, t.rows]));
}

describe('DumpAnalyzer', () => {
  it('learns MySQL databases and the tables that received rows, across chunk boundaries', async () => {
    const dump =
      '-- Current Database: `shop`\nUSE `shop`;\nINSERT INTO `orders` VALUES (1),(2);\nINSERT INTO `orders` VALUES (3);\n-- Current Database: `we``ird`\nUSE `we``ird`;\nINSERT INTO `t` VALUES (1);\n';
    const a = new DumpAnalyzer('mysql');

    const out = await through([dump.slice(0, 37), dump.slice(37, 90), dump.slice(90)], a);

    expect(out).toBe(dump);
    expect([...a.contents.databases]).toEqual(['shop', 'we`ird']);
    expect(rowsOf(a)).toEqual({ 'shop.orders': 2, '`we``ird`.t': 1 });
  });

  it('reads the same from a dump cut into single bytes, and from lines far longer than it looks at', async () => {
    const long = `INSERT INTO \`big\` VALUES ${Array.from({ length: 20_000 }, (_, i) => `(${i},'row ${i}')`).join(',')};`;
    const dump = `-- Current Database: \`shop\`\r\nUSE \`shop\`;\n${long}\nINSERT INTO \`orders\` VALUES\n(1),\n(2);\nUSE \`crm\`;\nINSERT INTO \`t\` VALUES (1);`;
    const a = new DumpAnalyzer('mysql');
    const b = new DumpAnalyzer('mysql');

    const out = await through(
      [...dump].map((c) => c),
      a,
    );
    await through([dump], b);

    expect(out).toBe(dump);
    for (const x of [a, b]) {
      expect([...x.contents.databases]).toEqual(['shop', 'crm']);
      expect(rowsOf(x)).toEqual({ 'shop.big': 1, 'shop.orders': 1, 'crm.t': 1 });
    }
  });

  it('counts PostgreSQL COPY rows exactly per database and table', async () => {
    const dump =
      '\\connect template1\n\\connect inventory\nCOPY public.items (id, sku) FROM stdin;\n1\ta\n2\tb\n3\tc\n\\.\nCOPY public."Empty" (id) FROM stdin;\n\\.\n';
    const a = new DumpAnalyzer('postgres');
    const bytes = new DumpAnalyzer('postgres');

    await through([dump], a);
    await through([...dump], bytes);
    expect(rowsOf(bytes)).toEqual(rowsOf(a));

    expect([...a.contents.databases]).toEqual(['inventory']);
    expect(rowsOf(a)).toEqual({
      'inventory.public.items': 3,
      'inventory.public."Empty"': 0,
    });
  });
});

describe('DumpAnalyzer: names that need quoting', () => {
  it('reads PostgreSQL databases, schemas and tables as pg_dumpall quotes them (shop-db, "Order Items")', async () => {
    // Lines as pg_dumpall 15 writes them for these names.
    const dump = [
      '\\connect template1',
      '\\restrict oO4279Dfd4aZ00YWcKSBMqhp7g1JNjRa6xQqlz51fdE8ri06SVnhG2byGwWUpCL',
      `\\connect -reuse-previous=on "dbname='shop-db'"`,
      'COPY public."Order Items" (id, "na""me") FROM stdin;',
      '1\ta',
      '2\tb',
      '\\.',
      'COPY "Sales ""EU"" \\x"."t;\\! touch /tmp/pwned2" (v) FROM stdin;',
      'a',
      '\\.',
      'COPY public."Empty" (id) FROM stdin;',
      '\\.',
      '\\encoding SQL_ASCII',
      `\\connect -reuse-previous=on "dbname='Ünï ""q"" \\'x\\'; \\\\! touch /tmp/pwned'"`,
      'COPY public.items (id) FROM stdin;',
      '1',
      '\\.',
      '',
    ].join('\n');
    const a = new DumpAnalyzer('postgres');

    await through([...dump], a);

    expect([...a.contents.databases]).toEqual(['shop-db', `Ünï "q" 'x'; \\! touch /tmp/pwned`]);
    expect(rowsOf(a)).toEqual({
      '"shop-db".public."Order Items"': 2,
      '"shop-db"."Sales ""EU"" \\x"."t;\\! touch /tmp/pwned2"': 1,
      '"shop-db".public."Empty"': 0,
      '"Ünï ""q"" \'x\'; \\! touch /tmp/pwned".public.items': 1,
    });
    expect([...a.contents.tables.values()][1]).toEqual({
      db: 'shop-db',
      schema: 'Sales "EU" \\x',
      table: 't;\\! touch /tmp/pwned2',
      rows: 1,
    });
  });

  it('reads MySQL names with backticks, backslashes, semicolons and non-ASCII as mysqldump quotes them', async () => {
    const dump = [
      '-- Current Database: `we``ird "q" \'x\'; \\! touch /tmp/pwned ü`',
      'USE `we``ird "q" \'x\'; \\! touch /tmp/pwned ü`;',
      'INSERT INTO `Order Items; \\! touch /tmp/pwned2` VALUES',
      "(1,'a');",
      'INSERT INTO `back\\slash\\` VALUES (1);',
      '',
    ].join('\n');
    const a = new DumpAnalyzer('mariadb');

    await through([dump], a);

    const db = `we\`ird "q" 'x'; \\! touch /tmp/pwned ü`;
    expect([...a.contents.databases]).toEqual([db]);
    expect([...a.contents.tables.values()].map((t) => [t.db, t.table, t.rows])).toEqual([
      [db, 'Order Items; \\! touch /tmp/pwned2', 1],
      [db, 'back\\slash\\', 1],
    ]);
  });
});

describe('PgRestoreFilter', () => {
  it('keeps the restoring role and its password, and forces database drops on PostgreSQL 13+', async () => {
    const script = [
      'DROP DATABASE IF EXISTS inventory;',
      'DROP ROLE IF EXISTS postgres;',
      'DROP ROLE IF EXISTS app;',
      'CREATE ROLE postgres;',
      "ALTER ROLE postgres WITH SUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$4096:abc';",
      "ALTER ROLE app WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:def';",
      '',
    ].join('\n');

    const out = await through([script.slice(0, 20), script.slice(20)], new PgRestoreFilter('postgres', true));

    expect(out).toContain('DROP DATABASE IF EXISTS inventory WITH (FORCE);');
    expect(out).toContain('-- (drbot) kept the restoring role: DROP ROLE IF EXISTS postgres;');
    expect(out).toContain('\nDROP ROLE IF EXISTS app;');
    expect(out).toContain('-- (drbot) role exists: CREATE ROLE postgres;');
    expect(out).toContain('ALTER ROLE postgres WITH SUPERUSER LOGIN;');
    expect(out).toContain("ALTER ROLE app WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:def';");
  });

  it('forces the drop of a database whose quoted name holds semicolons and quotes', async () => {
    const line = `DROP DATABASE IF EXISTS "Ünï ""q"" 'x'; \\! touch /tmp/pwned";\n`;

    const out = await through([line], new PgRestoreFilter('postgres', true));

    expect(out).toBe(`DROP DATABASE IF EXISTS "Ünï ""q"" 'x'; \\! touch /tmp/pwned" WITH (FORCE);\n`);
  });

  it('leaves DROP DATABASE alone before PostgreSQL 13', async () => {
    const out = await through(
      ['DROP DATABASE IF EXISTS inventory;\n'],
      new PgRestoreFilter('postgres', false),
    );

    expect(out).toBe('DROP DATABASE IF EXISTS inventory;\n');
  });
});
