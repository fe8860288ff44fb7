import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { SLACK_METHODS_USED } from '../../src/front/slack/slack-client.js';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));

/** Every `client.a.b(…)` / `client.a.b.c(…)` Web API call in the Slack adapter's source. */
function webApiCallsInSource(): Set<string> {
  const dir = join(root, 'src', 'front', 'slack');
  const found = new Set<string>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const m of src.matchAll(/\bclient\.((?:[a-z]+\.)+[a-zA-Z]+)\(/g)) found.add(m[1] as string);
  }
  return found;
}

describe('manifest.json', () => {
  const dr = manifest.features.slash_commands.find((c: { command: string }) => c.command === '/dr');

  it('declares /dr with a usage hint naming every subcommand', () => {
    expect(dr).toBeDefined();
    for (const c of COMMANDS) expect(dr.usage_hint).toContain(c.name);
    expect(dr.usage_hint.length).toBeLessThanOrEqual(1000);
  });

  it('sends commands and interactivity to the app endpoint', () => {
    expect(new URL(dr.url).pathname).toBe('/slack/events');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(new URL(manifest.settings.interactivity.request_url).pathname).toBe('/slack/events');
  });

  it('asks for exactly the bot scopes of the Web API methods the code calls', () => {
    const called = webApiCallsInSource();
    const scopes = new Set([
      'commands',
      ...[...called].map((m) => SLACK_METHODS_USED[m as keyof typeof SLACK_METHODS_USED]),
    ]);

    expect([...called].filter((m) => !(m in SLACK_METHODS_USED))).toEqual([]);
    expect(called.size).toBeGreaterThan(0);
    expect(new Set(manifest.oauth_config.scopes.bot)).toEqual(scopes);
  });
});
