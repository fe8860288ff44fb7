// The registry of secret values seen at run time, and `scrub`, which masks them in all output.
/**
 * Secret values seen at run time (database passwords read from container environments, keys
 * from the environment, scratch passwords of deep verifies). Everything that leaves the process
 * — log lines, run records, error texts, manifests, Slack messages — passes through `scrub`, so
 * a secret never leaves even when a tool echoes it.
 */

/** Registered values and how many registrations hold each (the same value may come twice). */
const secrets = new Map<string, number>();
/** One pattern for every form of every secret, built on first use after a change. */
let pattern: RegExp | undefined;
let stale = true;
const MASK = '[REDACTED]';

/**
 * Registers a secret value and returns its disposer. A secret that only lives as long as a
 * piece of work (a scratch database's password) must be disposed of when the work ends: every
 * line drbot writes is scanned for every registered value, so a registry that only grows makes
 * every log line slower. Values of every length are registered: a short password is still a
 * password, and masking a few ordinary characters with it is the lesser harm.
 */
export function registerSecret(value: string | undefined): () => void {
  if (!value) return () => undefined;
  const held = secrets.get(value) ?? 0;
  secrets.set(value, held + 1);
  // The pattern changes only with the set of values, not with how many hold each.
  if (held === 0) stale = true;
  let disposed = false;
  return () => {
    if (disposed) return;
    disposed = true;
    const n = secrets.get(value) ?? 0;
    if (n > 1) secrets.set(value, n - 1);
    else if (secrets.delete(value)) stale = true;
  };
}

/** How many distinct secret values are registered (for tests and diagnostics). */
export function secretCount(): number {
  return secrets.size;
}

function currentPattern(): RegExp | undefined {
  if (!stale) return pattern;
  stale = false;
  const forms = new Set<string>();
  for (const value of secrets.keys()) {
    forms.add(value);
    // Log lines and stored JSON hold the secret escaped (quotes, backslashes, control characters).
    forms.add(JSON.stringify(value).slice(1, -1));
  }
  // Longest first, so a secret that contains another is masked whole. One pass over the text:
  // replacing one secret after another would find short secrets inside the mask itself.
  const sorted = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  // The mask itself comes first and is kept as it is, so scrubbing twice changes nothing even
  // when a short secret occurs inside "[REDACTED]".
  pattern = sorted.length ? new RegExp([escapeRegExp(MASK), ...sorted].join('|'), 'g') : undefined;
  return pattern;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function scrub(text: string): string {
  const re = currentPattern();
  return re ? text.replace(re, MASK) : text;
}

export function registerEnvironmentSecrets(env: NodeJS.ProcessEnv): void {
  for (const key of [
    'SLACK_BOT_TOKEN',
    'SLACK_SIGNING_SECRET',
    'SLACK_APP_TOKEN',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
  ]) {
    registerSecret(env[key]);
  }
}
