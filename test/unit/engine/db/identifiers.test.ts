// Identifiers quoted by each engine's rules, and read back from pg_dump's and mysqldump's own quoting.
import { describe, expect, it } from 'vitest';
import {
  conninfoValue,
  pgDbnameConninfo,
  psqlConnectTarget,
  quoteMysqlIdent,
  quotePgIdent,
  readPgQualifiedName,
  tableInSql,
  tableLabel,
} from '../../../../src/engine/db/identifiers.js';

const HOSTILE = `Ünï "q" 'x'; \\! touch /tmp/pwned \`b\` \\`;

describe('quoting', () => {
  it('doubles the quote character of each engine and nothing else', () => {
    const my = quoteMysqlIdent(HOSTILE);
    const pg = quotePgIdent(HOSTILE);

    expect(my).toBe(`\`Ünï "q" 'x'; \\! touch /tmp/pwned \`\`b\`\` \\\``);
    expect(pg).toBe(`"Ünï ""q"" 'x'; \\! touch /tmp/pwned \`b\` \\"`);
  });

  it('names a database for psql --dbname as a connection string that reads back as the same name', () => {
    for (const name of [HOSTILE, 'shop-db', 'a=b', "it's", 'back\\slash\\', 'postgres']) {
      const conninfo = pgDbnameConninfo(name);

      expect(conninfo.startsWith("dbname='")).toBe(true);
      expect(conninfoValue(conninfo, 'dbname')).toBe(name);
    }
  });

  it('qualifies tables in SQL and labels them so that different tables never read the same', () => {
    const a = { db: 'a.b', schema: undefined, table: 'c' };
    const b = { db: 'a', schema: undefined, table: 'b.c' };

    expect(tableInSql('mariadb', a)).toBe('`a.b`.`c`');
    expect(tableInSql('postgres', { db: 'x', schema: 'Sales "EU"', table: 'Order Items' })).toBe(
      '"Sales ""EU"""."Order Items"',
    );
    expect(tableLabel('mariadb', a)).not.toBe(tableLabel('mariadb', b));
    expect(tableLabel('postgres', { db: 'inventory', schema: 'public', table: 'items' })).toBe(
      'inventory.public.items',
    );
    expect(tableLabel('postgres', { db: 'shop-db', schema: 'public', table: 'Order Items' })).toBe(
      '"shop-db".public."Order Items"',
    );
  });
});

describe('reading pg_dump names', () => {
  it('reads every form of \\connect that pg_dump writes', () => {
    const cases: Array<[string, string | undefined]> = [
      ['\\connect template1', 'template1'],
      ['\\connect "Foo.Bar"', 'Foo.Bar'],
      [`\\connect -reuse-previous=on "dbname='shop-db'"`, 'shop-db'],
      [
        `\\connect -reuse-previous=on "dbname='Ünï ""q"" \\'x\\'; \\\\! touch /tmp/pwned'"`,
        `Ünï "q" 'x'; \\! touch /tmp/pwned`,
      ],
      ['\\restrict oO4279Dfd4aZ00YWcKSBMqhp7g1JNjRa6xQqlz51fdE8ri06SVnhG2byGwWUpCL', undefined],
      ['\\encoding SQL_ASCII', undefined],
    ];

    for (const [line, db] of cases) expect(psqlConnectTarget(line), line).toBe(db);
  });

  it('reads quoted and bare parts of a qualified name and where it ends', () => {
    const line = 'COPY "Sales ""EU"" \\x"."t;\\! touch /tmp/pwned2" (v) FROM stdin;';

    const name = readPgQualifiedName(line, 5);

    expect(name?.parts).toEqual(['Sales "EU" \\x', 't;\\! touch /tmp/pwned2']);
    expect(line.slice(name?.end)).toBe(' (v) FROM stdin;');
    expect(readPgQualifiedName('public.items (id)', 0)?.parts).toEqual(['public', 'items']);
    expect(readPgQualifiedName('"unterminated', 0)).toBeUndefined();
  });
});
