import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/adapters/docker/docker-runtime.js';
import { MYSQL_DUMP_ARGS } from '../../src/engine/backup/sources.js';
import { type DbTarget, restoreDump } from '../../src/engine/db/db-restore.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { docker, execIn } from '../fixtures/docker.js';
import { scratchDatabase } from '../fixtures/restore-by-hand.js';

const NAME = 'drbot-fixture-parallel-load';
const PASSWORD = 'pl-Secret-7f3a';
let env: Record<string, string>;
let dump: Buffer;
let original: string;

/**
 * Tables that a careless parallel load would get wrong: rows spread over many INSERT
 * statements (InnoDB and MyISAM), a trigger that must not fire while loading, a foreign key
 * whose parent table is dumped after the child, timestamps on a server whose default time zone
 * is not the dump's, utf8mb4 text and binary data. Every session needs the dump's header for
 * these to come back right.
 */
const SCHEMA = `
CREATE DATABASE ledger CHARACTER SET utf8mb4;
USE ledger;
CREATE TABLE wallets (id INT PRIMARY KEY, owner VARCHAR(60) NOT NULL, opened TIMESTAMP NOT NULL) ENGINE=InnoDB;
CREATE TABLE entries (
  id INT PRIMARY KEY, account_id INT NOT NULL, amount DECIMAL(12,2) NOT NULL, memo TEXT NOT NULL,
  blob_part VARBINARY(64) NOT NULL, at TIMESTAMP NOT NULL,
  KEY (account_id), CONSTRAINT fk_account FOREIGN KEY (account_id) REFERENCES wallets (id)
) ENGINE=InnoDB;
CREATE TABLE archive (id INT PRIMARY KEY, note VARCHAR(200) NOT NULL, KEY (note)) ENGINE=MyISAM;
CREATE TABLE audit (n INT NOT NULL);
INSERT INTO audit VALUES (0);
CREATE TRIGGER entries_audit AFTER INSERT ON entries FOR EACH ROW UPDATE audit SET n = n + 1;
CREATE VIEW balances AS SELECT account_id, SUM(amount) AS balance FROM entries GROUP BY account_id;
SET GLOBAL time_zone = '+05:30';
SET time_zone = '+05:30';
INSERT INTO wallets SELECT seq, CONCAT('owner ', seq, ' 😀 ü'), FROM_UNIXTIME(1700000000 + seq) FROM seq_1_to_2000;
INSERT INTO entries
  SELECT seq, 1 + seq % 2000, (seq % 9973) / 7, CONCAT('memo; ', seq, ' it''s "quoted"\\n', REPEAT('x', seq % 300)),
         UNHEX(SHA2(seq, 256)), FROM_UNIXTIME(1710000000 + seq * 7)
  FROM seq_1_to_60000;
INSERT INTO archive SELECT seq, CONCAT('archived ', seq, REPEAT(';', seq % 5)) FROM seq_1_to_20000;
`;

function fingerprint(): string {
  return execIn(
    NAME,
    [
      'mariadb',
      '-uroot',
      '--default-character-set=utf8mb4',
      '-N',
      '-e',
      [
        "SET time_zone = '+00:00'",
        'CHECKSUM TABLE ledger.wallets, ledger.entries, ledger.archive, ledger.audit',
        'SELECT COUNT(*), SUM(amount), MD5(GROUP_CONCAT(memo, HEX(blob_part), at ORDER BY id)) FROM ledger.entries',
        'SELECT MD5(GROUP_CONCAT(owner, opened ORDER BY id)) FROM ledger.wallets',
        'SELECT n FROM ledger.audit',
        'SELECT COUNT(*), SUM(balance) FROM ledger.balances',
        "SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'ledger'",
        "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'ledger' ORDER BY 1",
      ].join(';'),
    ],
    { env },
  ).trim();
}

function target(): DbTarget {
  return {
    runtime: new DockerRuntime('unix:///var/run/docker.sock', createLogger({ level: 'silent' })),
    container: NAME,
    engine: 'mariadb',
    user: 'root',
    password: PASSWORD,
    asset: 'ledger-db',
  };
}

beforeAll(async () => {
  env = await scratchDatabase(NAME, 'mariadb', PASSWORD);
  execIn(NAME, ['mariadb', '-uroot', '--default-character-set=utf8mb4'], { input: SCHEMA, env });
  original = fingerprint();
  dump = Buffer.from(execIn(NAME, ['mariadb-dump', '-uroot', ...MYSQL_DUMP_ARGS], { env }), 'utf8');
});

afterAll(() => {
  docker(['rm', '-f', NAME]);
});

describe('loading a MariaDB dump through several sessions', () => {
  it('brings back the same rows, trigger, view and engines as one session would', async () => {
    // The dump really has many row statements per table, or this test would prove nothing.
    expect(dump.toString('utf8').match(/^INSERT INTO `entries`/gm)?.length).toBeGreaterThan(8);
    execIn(NAME, ['mariadb', '-uroot', '-e', 'DROP DATABASE ledger'], { env });

    const contents = await restoreDump(target(), Readable.from([dump]), { sessions: 3 });

    expect(contents.sessions).toBe(3);
    expect(contents.tables.get('ledger.entries')?.rows).toBeGreaterThan(8);
    expect(fingerprint()).toBe(original);
    // The audit row says 60000 from the original inserts, not 120000: the trigger did not fire.
    expect(original).toMatch(/^60000$/m);
  });

  it('fails with the server error, names the session, and does not hang when a statement fails', async () => {
    // The second copy of a row statement breaks its primary key, as a damaged dump would.
    const text = dump.toString('utf8');
    const stmt = /^INSERT INTO `entries` VALUES\n?[^\n]*(?:\n\([^\n]*)*;$/m.exec(text.slice(text.length / 2));
    expect(stmt).not.toBeNull();
    const broken = text.replace(`${stmt?.[0]}\n`, `${stmt?.[0]}\n${stmt?.[0]}\n`);

    const err = await restoreDump(target(), Readable.from([Buffer.from(broken)]), { sessions: 2 }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/exited with code 1 while loading the dump$/);
    expect(e.stderrTail).toMatch(/Duplicate entry/);
    expect(e.stderrTail).toMatch(
      /\(in load session [12] of 2: line numbers count from the start of that session's input/,
    );
    expect(`${e.message} ${e.stderrTail}`).not.toContain(PASSWORD);
  });
});
