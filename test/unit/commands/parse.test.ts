import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand } from '../../../commands/define.js';
import { COMMANDS, findCommand } from '../../../commands/index.js';
import { countArg, parseArgs, splitWords } from '../../../commands/parse.js';

function command(name: string) {
  const def = findCommand(name);
  if (!def) throw new Error(`no command ${name}`);
  return def;
}

function errorOf(result: { ok: true } | { ok: false; error: string }): string {
  if (result.ok) throw new Error('expected a parse error');
  return result.error;
}

/** A command with flags, to exercise option parsing (the shipped commands have none yet). */
const withFlags = defineCommand({
  name: 'demo',
  summary: 'a command with options',
  usage: 'demo <asset> [--from <set-id>] [--dry-run]',
  positionals: ['asset'],
  flags: {
    from: { type: 'string', description: 'set to use' },
    'dry-run': { type: 'boolean', description: 'only show the plan' },
  },
  args: z.object({ asset: z.string(), from: z.string().optional(), 'dry-run': z.boolean().default(false) }),
  access: { role: 'operator', destructive: true },
  async run() {
    return { ok: true, text: '' };
  },
});

describe('parseArgs with the shipped commands', () => {
  it('backup without arguments targets all', () => {
    const result = parseArgs(command('backup'), []);

    expect(result).toEqual({ ok: true, args: { target: 'all' } });
  });

  it('backup takes one asset name', () => {
    const result = parseArgs(command('backup'), ['app-data']);

    expect(result).toEqual({ ok: true, args: { target: 'app-data' } });
  });

  it('backup rejects a second argument, naming it, with the usage line', () => {
    const result = parseArgs(command('backup'), ['a', 'b']);

    expect(errorOf(result)).toBe("unexpected argument 'b'\nusage: /dr backup [asset|all]");
  });

  it('backup rejects an asset name that is not a name', () => {
    const result = parseArgs(command('backup'), ['../etc']);

    expect(errorOf(result)).toBe('target: must be an asset name or all\nusage: /dr backup [asset|all]');
  });

  it('rejects an unknown option with the usage line', () => {
    const result = parseArgs(command('backup'), ['app-data', '--force']);

    expect(errorOf(result)).toBe('unknown option --force\nusage: /dr backup [asset|all]');
  });

  it('status takes no arguments', () => {
    const ok = parseArgs(command('status'), []);
    const extra = parseArgs(command('status'), ['now']);

    expect(ok).toEqual({ ok: true, args: {} });
    expect(errorOf(extra)).toBe("unexpected argument 'now'\nusage: /dr status");
  });

  it('runs defaults to 10 and takes a count', () => {
    const byDefault = parseArgs(command('runs'), []);
    const five = parseArgs(command('runs'), ['5']);
    const max = parseArgs(command('runs'), ['200']);

    expect(byDefault).toEqual({ ok: true, args: { n: 10 } });
    expect(five).toEqual({ ok: true, args: { n: 5 } });
    expect(max).toEqual({ ok: true, args: { n: 200 } });
  });

  it.each([
    ['0', 'n: must be from 1 to 200'],
    ['201', 'n: must be from 1 to 200'],
    ['x', 'n: must be a whole number from 1 to 200'],
    ['-3', 'n: must be a whole number from 1 to 200'],
    ['2.5', 'n: must be a whole number from 1 to 200'],
  ])('runs %s is an error naming the allowed range', (word, problem) => {
    const result = parseArgs(command('runs'), [word]);

    expect(errorOf(result)).toBe(`${problem}\nusage: /dr runs [n] [--before <run-id>]`);
  });

  it('runs --before takes a run id, and refuses anything else naming the form', () => {
    expect(parseArgs(command('runs'), ['5', '--before', 'run-40'])).toEqual({
      ok: true,
      args: { n: 5, before: 'run-40' },
    });
    expect(errorOf(parseArgs(command('runs'), ['--before', 'yesterday']))).toMatch(
      /^before: must be a run id \(run-…\)\nusage: /,
    );
  });

  it('run takes a run id', () => {
    const result = parseArgs(command('run'), ['run-12']);

    expect(result).toEqual({ ok: true, args: { id: 'run-12', postmortem: false } });
  });

  it('run without an id says one is required, with the usage line', () => {
    const result = parseArgs(command('run'), []);

    expect(errorOf(result)).toBe(
      'id: a run id is required, e.g. run-12\nusage: /dr run <run-id> [--postmortem]',
    );
  });

  it('run rejects something that is not a run id', () => {
    const result = parseArgs(command('run'), ['12']);

    expect(errorOf(result)).toBe('id: must be a run id like run-12\nusage: /dr run <run-id> [--postmortem]');
  });

  it('every error of every command ends with that command usage line', () => {
    const results = COMMANDS.map((def) => ({ def, result: parseArgs(def, ['x', 'y', 'z', '--nope']) }));

    for (const { def, result } of results) {
      expect(errorOf(result).split('\n').at(-1)).toBe(`usage: /dr ${def.usage}`);
    }
  });
});

describe('parseArgs options', () => {
  it('reads --flag value, --flag=value and boolean flags', () => {
    const spaced = parseArgs(withFlags, ['app-data', '--from', 'set-1']);
    const inline = parseArgs(withFlags, ['--from=set-2', 'app-data', '--dry-run']);

    expect(spaced).toEqual({ ok: true, args: { asset: 'app-data', from: 'set-1', 'dry-run': false } });
    expect(inline).toEqual({ ok: true, args: { asset: 'app-data', from: 'set-2', 'dry-run': true } });
  });

  it('keeps everything after the first = as the value', () => {
    const result = parseArgs(withFlags, ['a', '--from=x=y']);

    expect(result).toEqual({ ok: true, args: { asset: 'a', from: 'x=y', 'dry-run': false } });
  });

  it('rejects a string option without a value', () => {
    const atEnd = parseArgs(withFlags, ['a', '--from']);
    const beforeFlag = parseArgs(withFlags, ['a', '--from', '--dry-run']);

    expect(errorOf(atEnd)).toBe(`option --from needs a value\nusage: /dr ${withFlags.usage}`);
    expect(errorOf(beforeFlag)).toBe(`option --from needs a value\nusage: /dr ${withFlags.usage}`);
  });

  it('rejects a value given to a boolean option', () => {
    const result = parseArgs(withFlags, ['a', '--dry-run=yes']);

    expect(errorOf(result)).toBe(`option --dry-run takes no value\nusage: /dr ${withFlags.usage}`);
  });

  it('reports a missing required positional by its name', () => {
    const result = parseArgs(withFlags, ['--dry-run']);

    expect(errorOf(result)).toMatch(/^asset: .*\nusage: \/dr demo/);
  });
});

describe('parseArgs with the restore command', () => {
  it('takes a target, --from with a set id and --yes', () => {
    const result = parseArgs(command('restore'), ['db-only', '--from', 'set-20261126-020000-ab12', '--yes']);

    expect(result).toEqual({
      ok: true,
      args: { target: 'db-only', from: 'set-20261126-020000-ab12', yes: true },
    });
  });

  it('refuses a restore with no target, naming what is allowed', () => {
    const result = parseArgs(command('restore'), []);

    expect(errorOf(result)).toBe(
      'target: say what to restore: full, db-only or an asset name\nusage: /dr restore full|db-only|<asset> [--from <set-id>] [--to <time>] [--source <target>] [--env-file <file>] [--yes]',
    );
  });

  it('refuses --from with something that is not a set id', () => {
    const result = parseArgs(command('restore'), ['full', '--from', 'yesterday']);

    expect(errorOf(result)).toMatch(/^from: must be a set id \(set-…\)\nusage: /);
  });

  it('verify takes an optional set and --deep', () => {
    expect(parseArgs(command('verify'), [])).toEqual({ ok: true, args: { set: 'latest', deep: false } });
    expect(parseArgs(command('verify'), ['set-20261126-020000-ab12', '--deep'])).toEqual({
      ok: true,
      args: { set: 'set-20261126-020000-ab12', deep: true },
    });
  });
});

describe('countArg', () => {
  it('turns text into a number within bounds and falls back to the default', () => {
    const schema = countArg(3, 5);

    const given = schema.parse('4');
    const missing = schema.parse(undefined);
    const tooBig = schema.safeParse('6');

    expect(given).toBe(4);
    expect(missing).toBe(3);
    expect(tooBig.success).toBe(false);
  });
});

describe('splitWords', () => {
  it('splits on any whitespace', () => {
    const words = splitWords('  backup   app-data\tnow ');

    expect(words).toEqual(['backup', 'app-data', 'now']);
  });

  it('keeps double- and single-quoted text as one word without the quotes', () => {
    const words = splitWords(`restore "my volume" --note 'it is late'`);

    expect(words).toEqual(['restore', 'my volume', '--note', 'it is late']);
  });

  it('keeps the other kind of quote inside a quoted word', () => {
    const words = splitWords(`say "it's" 'a "b"'`);

    expect(words).toEqual(['say', "it's", 'a "b"']);
  });

  it('keeps an empty quoted word', () => {
    const words = splitWords('x "" y');

    expect(words).toEqual(['x', '', 'y']);
  });

  it('returns no words for an empty line', () => {
    const words = splitWords('   ');

    expect(words).toEqual([]);
  });
});
