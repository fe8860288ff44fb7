import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO, workspace } from '../fixtures/cli.js';

describe('npm start', () => {
  it('without Slack secrets opens the terminal session, where /dr status works', async () => {
    const ws = workspace();
    const env: NodeJS.ProcessEnv = { ...process.env, DRBOT_CONFIG: ws.configPath, LOG_LEVEL: 'warn' };
    for (const k of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN']) delete env[k];
    const child = spawn('npm', ['start', '--silent'], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));

    child.stdin.write('/dr status\n');
    child.stdin.write('/dr frobnicate\n');
    child.stdin.end('exit\n');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

    expect(code, err).toBe(0);
    expect(out).toMatch(/drbot terminal session \(no Slack secrets set\)/);
    expect(out).toMatch(/drbot status at \d{4}-/);
    expect(out).toMatch(/targets: local: /);
    expect(out).toMatch(/unknown command 'frobnicate'/);
  });
});
