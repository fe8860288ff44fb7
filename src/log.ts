// The pino root logger, with secrets redacted from every line.
import pino, { type Logger } from 'pino';
import { scrub } from './secrets.js';

export type { Logger } from 'pino';

/** Field paths that hold secrets wherever they appear in a log object. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'env',
  '*.env',
  'Env',
  '*.Env',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'signingSecret',
  '*.signingSecret',
  'secretAccessKey',
  '*.secretAccessKey',
];

export interface LogOptions {
  level?: string;
  /** Where lines go; stderr by default so stdout stays for command output. */
  destination?: pino.DestinationStream;
}

/**
 * The root logger. Secrets are removed twice: by field path (pino redaction) and by value
 * (every line is scrubbed of registered secret values before it is written).
 */
export function createLogger(options: LogOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: { streamWrite: (line: string) => scrub(line) },
    },
    options.destination ?? pino.destination(2),
  );
}
