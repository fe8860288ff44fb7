// Command-line words into a command's arguments: positionals, flags, and the shared argument schemas.
import { z } from 'zod';
import { parseSpan } from '../src/domain/duration.js';
import { POINT_IN_TIME_FORMAT, parsePointInTime } from '../src/domain/pitr.js';
import type { CommandDefinition } from './define.js';

export type ParseResult<A> = { ok: true; args: A } | { ok: false; error: string };

/**
 * Turns the words after the subcommand into the command's arguments: positionals in order,
 * `--flag` / `--flag value` / `--flag=value`. Anything unknown or missing is an error that shows
 * the usage; nothing runs.
 */
export function parseArgs<A>(def: CommandDefinition<A>, words: string[]): ParseResult<A> {
  const raw: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w.startsWith('--')) {
      const [name, inline] = w.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const spec = def.flags[name];
      if (!spec) return fail(def, `unknown option --${name}`);
      if (spec.type === 'boolean') {
        if (inline !== undefined) return fail(def, `option --${name} takes no value`);
        raw[name] = true;
      } else {
        const value = inline ?? words[++i];
        if (value === undefined || value.startsWith('--')) return fail(def, `option --${name} needs a value`);
        raw[name] = value;
      }
    } else {
      positionals.push(w);
    }
  }
  const names = def.positionals;
  if (positionals.length > names.length)
    return fail(def, `unexpected argument '${positionals[names.length]}'`);
  names.forEach((n, i) => {
    const key = n.replace(/\?$/, '');
    if (positionals[i] !== undefined) raw[key] = positionals[i];
  });
  const parsed = def.args.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const key = issue.path.join('.') || 'arguments';
    return fail(def, `${key}: ${issue.message}`);
  }
  return { ok: true, args: parsed.data };
}

function fail<A>(def: CommandDefinition<A>, problem: string): ParseResult<A> {
  return { ok: false, error: `${problem}\nusage: /dr ${def.usage}` };
}

/** Splits a command line into words, honouring double and single quotes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3] ?? '');
  return words;
}

/** A positive whole number given as text, with a default and an upper bound. */
export const countArg = (fallback: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: `must be a whole number from 1 to ${max}` })
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, { message: `must be from 1 to ${max}` })
    .optional()
    .transform((n) => n ?? fallback);

/** A target name for `--source`; whether it is configured is checked by the engine. */
export const targetArg = z
  .string()
  .regex(/^(local|s3|offsite-\d+)$/, { message: 'must be a target name: local, s3 or offsite-<n>' });

/** `--to` of a restore: an ISO-8601 time or a time before now (`-10m`); see parsePointInTime. */
export const pointInTimeArg = z
  .string()
  .refine((v) => parsePointInTime(v, new Date(), parseSpan) !== undefined, {
    message: `must be ${POINT_IN_TIME_FORMAT}`,
  });
