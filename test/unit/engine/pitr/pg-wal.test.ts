import { describe, expect, it } from 'vitest';
import { pgTime } from '../../../../src/engine/pitr/pg-recover.js';
import {
  lsnBytes,
  lsnText,
  slotName,
  type WalSettings,
  walProblem,
} from '../../../../src/engine/pitr/pg-wal.js';

const ok: WalSettings = {
  walLevel: 'replica',
  maxWalSenders: 10,
  maxReplicationSlots: 10,
  segmentBytes: 16 * 1024 * 1024,
  canReplicate: true,
};

describe('PostgreSQL WAL archiving prerequisites and names', () => {
  it('names the exact setting to change, and nothing on the defaults', () => {
    expect(walProblem('pg', 'app', ok)).toBeUndefined();
    expect(walProblem('pg', 'app', { ...ok, walLevel: 'logical' })).toBeUndefined();
    expect(walProblem('pg', 'app', { ...ok, walLevel: 'minimal' })).toBe(
      'wal_level is minimal on pg: set wal_level = replica (in postgresql.conf, or -c wal_level=replica) and restart the server',
    );
    expect(walProblem('pg', 'app', { ...ok, maxWalSenders: 0 })).toMatch(
      /^max_wal_senders is 0 on pg: set max_wal_senders = 10/,
    );
    expect(walProblem('pg', 'app', { ...ok, maxReplicationSlots: 0 })).toMatch(
      /^max_replication_slots is 0 on pg/,
    );
    expect(walProblem('pg', 'app', { ...ok, canReplicate: false })).toMatch(
      /^the user app on pg may not stream WAL: ALTER ROLE app REPLICATION/,
    );
  });

  it('reads and writes LSNs, and gives each asset its own valid slot name', () => {
    expect(lsnBytes('0/9000210')).toBe(0x9000210);
    expect(lsnBytes('1/0')).toBe(0x1_0000_0000);
    expect(lsnText(0x1_0a00_0000)).toBe('1/A000000');
    expect(lsnText(lsnBytes('2F/3C000028'))).toBe('2F/3C000028');

    const a = slotName('Ledger-DB');
    expect(a).toMatch(/^drbot_ledger_db_[0-9a-f]+$/);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(slotName('ledger_db')).not.toBe(a);
    expect(slotName('x'.repeat(200)).length).toBeLessThanOrEqual(63);
  });

  it('gives recovery_target_time in UTC to the millisecond', () => {
    expect(pgTime(new Date('2026-11-29T06:36:03.507Z'))).toBe('2026-11-29 06:36:03.507+00');
  });
});
