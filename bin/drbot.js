#!/usr/bin/env node
// The `drbot` command. Runs the compiled CLI; build it first with `npm run build`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli-main.js');
if (!existsSync(entry)) {
  process.stderr.write('drbot: not built yet; run `npm run build` in the drbot checkout first\n');
  process.exit(2);
}
await import(entry);
