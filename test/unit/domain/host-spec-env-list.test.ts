// Unit tests of envList: a recorded container's env filled back in for its re-creation.
import { describe, expect, it } from 'vitest';
import { envList, recordEnv } from '../../../src/domain/host-spec.js';

describe('envList', () => {
  it('gives recorded values back and takes secret ones from the lookup', () => {
    const recorded = recordEnv(['APP_MODE=prod', 'DB_PASSWORD=hunter2', 'EMPTY=']);
    const secrets: Record<string, string> = { DB_PASSWORD: 'from-env' };

    const result = envList(recorded, (name) => secrets[name]);

    expect(result).toEqual({ env: ['APP_MODE=prod', 'DB_PASSWORD=from-env', 'EMPTY='], missing: [] });
  });

  it('names the secrets it has no value for, and leaves them out', () => {
    const recorded = recordEnv(['API_TOKEN=x', 'DB_PASSWORD=y', 'APP_MODE=prod']);

    const result = envList(recorded, () => undefined);

    expect(result).toEqual({ env: ['APP_MODE=prod'], missing: ['API_TOKEN', 'DB_PASSWORD'] });
  });
});
