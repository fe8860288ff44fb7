import { describe, expect, it } from 'vitest';
import { scratchSuperuser } from '../../../../src/engine/verify/deep-verify.js';

describe('scratchSuperuser', () => {
  it('logs in to a scratch MySQL/MariaDB as root, whatever user the live one is reached as', () => {
    expect(scratchSuperuser('mariadb', ['MYSQL_USER=app'])).toBe('root');
    expect(scratchSuperuser('mysql', [])).toBe('root');
  });

  it("logs in to a scratch PostgreSQL as the image's POSTGRES_USER, else postgres", () => {
    expect(scratchSuperuser('postgres', ['POSTGRES_USER=shop_admin', 'PGDATA=/data'])).toBe('shop_admin');
    expect(scratchSuperuser('postgres', ['POSTGRES_USER='])).toBe('postgres');
    expect(scratchSuperuser('postgres', [])).toBe('postgres');
  });
});
