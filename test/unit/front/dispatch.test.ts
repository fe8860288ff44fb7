import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.js';
import { dispatch } from '../../../src/front/dispatch.js';
import { createLogger } from '../../../src/log.js';

/** An engine that fails the test if anything touches it: help must never start or read anything. */
const untouchable = new Proxy({} as Engine, {
  get: (_t, key) => {
    throw new Error(`help touched the engine (${String(key)})`);
  },
});
const log = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'silent' });

describe('dispatch: help in every front end', () => {
  it.each([[['help', 'undo']], [['undo', '--help']]])(
    '%j answers with the command’s usage and options without touching the engine',
    async (words) => {
      const reply = await dispatch(words, { engine: untouchable, requester: 'U1', log });

      expect(reply).toMatchObject({ ok: true, exitCode: 0, diagnostic: false });
      expect(reply.text).toMatch(
        /^Usage: \/dr undo <run-id> \[--yes\]\n {3}or: drbot undo <run-id> \[--yes\]\n\n/,
      );
      expect(reply.text).toMatch(/\nOptions:\n {2}--yes {2}approve/);
    },
  );

  it('answers help on a command it does not know with the list, as a refusal', async () => {
    const reply = await dispatch(['help', 'frobnicate'], { engine: untouchable, requester: 'U1', log });

    expect(reply).toMatchObject({ ok: false, exitCode: 2, diagnostic: true });
    expect(reply.text).toMatch(/^unknown command 'frobnicate'\n\nUsage: \/dr <command>/);
  });
});
