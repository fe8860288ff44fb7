// SIGTERM during a restore: it finishes (or, past the grace period, fails saying so), and services run again.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { drbot, spawnDrbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, execIn, removeByLabel, waitFor } from '../fixtures/docker.js';
import { createSeed, mysqlFingerprint, type Seed, teardownSeed } from '../fixtures/seed.js';
import { runEvents } from '../fixtures/state.js';

let seed: Seed;
let ws: Workspace;
let original: string;

/** Enough rows that the restore stage takes seconds: time to signal drbot in the middle. */
const BULK_SQL = `
CREATE DATABASE bulk;
USE bulk;
CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(255));
INSERT INTO t SELECT seq, CONCAT(MD5(seq), MD5(seq * 3), MD5(seq * 7), MD5(seq * 11)) FROM seq_1_to_300000;
`;

const WEB_HEALTH = {
  container: 'web',
  health: { cmd: ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/health'] },
};

function webRunning(): boolean {
  return docker(['inspect', '-f', '{{.State.Running}}', 'web']).trim() === 'true';
}

/** How many times drbot has stopped `web` so far (each restore stops it once, in its restore stage). */
function webStops(): number {
  return runEvents(ws.statePath).filter((e) => e.message === 'stopped web').length;
}

async function runsJson(): Promise<Array<{ id: string; kind: string; status: string; error?: string }>> {
  return JSON.parse((await drbot(ws, ['runs', '--json'])).stdout).data;
}

beforeAll(async () => {
  seed = await createSeed();
  execIn('mysql-prod', ['mariadb', '-uroot'], { input: BULK_SQL, env: seed.mysqlEnv });
  // busybox httpd (PID 1) ignores SIGTERM: do not wait 30 s for it at every stop.
  ws = workspace({ extra: { services: [WEB_HEALTH], restore: { stopTimeout: '2s' } } });
  const res = await drbot(ws, ['backup', 'all']);
  expect(res.code, res.stdout + res.stderr).toBe(0);
  original = mysqlFingerprint('mysql-prod', seed.mysqlEnv);
});

afterAll(() => {
  // A restore given up mid-snapshot exits with its volume anchor still there (the next start
  // removes it); it would keep its fixture volume in use.
  removeByLabel('drbot.anchor');
  teardownSeed();
});

describe('SIGTERM while a restore replaces data', () => {
  it('lets the restore finish within the grace period, says so, and leaves services running', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DELETE FROM shop.orders WHERE id > 2000'], {
      env: seed.mysqlEnv,
    });
    const stops = webStops();
    const { child, result } = spawnDrbot(ws, ['restore', 'full', '--yes']);
    await waitFor('the restore to stop web', () => webStops() > stops, 120_000, 20);

    child.kill('SIGTERM');
    const res = await result;

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stderr).toMatch(
      /drbot: drbot is stopping \(SIGTERM\): it waits up to 10m for run-\d+ \(restore full\) to finish/,
    );
    expect(res.stderr).toMatch(/run-\d+ \(restore full\) ended succeeded before drbot stopped \(SIGTERM\)/);
    expect(res.stdout).toMatch(/✓ run-\d+ restore full: succeeded/);
    expect(webRunning()).toBe(true);
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original);
    const [run] = await runsJson();
    expect(run).toMatchObject({ kind: 'restore', status: 'succeeded' });
  });

  it('past the grace period gives the restore up: it fails saying why, and the services it stopped run again', async () => {
    const config = parse(readFileSync(ws.configPath, 'utf8'));
    config.restore.shutdownGrace = '1s';
    const shortGrace = join(ws.dir, 'short-grace.yaml');
    writeFileSync(shortGrace, stringify(config));
    const stops = webStops();
    const { child, result } = spawnDrbot(ws, ['restore', 'full', '--yes'], { DRBOT_CONFIG: shortGrace });
    await waitFor('the restore to stop web', () => webStops() > stops, 120_000, 20);

    child.kill('SIGTERM');
    const res = await result;

    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(res.stderr).toMatch(
      /drbot is stopping \(SIGTERM\): it waits up to 1s for run-\d+ \(restore full\)/,
    );
    expect(res.stderr).toMatch(
      /run-\d+ \(restore full\) failed: drbot stopped \(SIGTERM\) before it finished/,
    );
    expect(res.stderr).toMatch(
      /The grace period of 1s ran out during its restore stage\.\n {2}Started again: web\./,
    );
    expect(webRunning()).toBe(true);
    const [run] = await runsJson();
    expect(run?.kind).toBe('restore');
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(
      /^drbot stopped \(SIGTERM\) before run-\d+ finished: the grace period of 1s ran out during its restore stage; started again: web/,
    );
    // Settled by the process that ran it: nothing is left for the next start to call interrupted.
    const next = await drbot(ws, ['status']);
    expect(next.stderr).not.toMatch(/was interrupted/);
  });
});
