/**
 * Secret values seen at run time (database passwords read from container environments, keys
 * from the environment). Everything that leaves the process — log lines, run records, error
 * texts, manifests — passes through `scrub`, so a secret never leaves even when a tool echoes it.
 */
const secrets = new Set<string>();
/** Every form a secret can take in our output, longest first (a secret may contain another). */
let forms: string[] = [];
const MASK = '[REDACTED]';

export function registerSecret(value: string | undefined): void {
  // Very short values would mask ordinary words; such passwords are still never logged on purpose.
  if (!value || value.length < 4 || secrets.has(value)) return;
  secrets.add(value);
  // Log lines and stored JSON hold the secret escaped (quotes, backslashes, control characters).
  const escaped = JSON.stringify(value).slice(1, -1);
  forms = [...new Set([...forms, value, escaped])].sort((a, b) => b.length - a.length);
}

export function scrub(text: string): string {
  let out = text;
  for (const s of forms) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  return out;
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
