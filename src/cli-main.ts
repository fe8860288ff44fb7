// Entry point of the one-shot CLI (`drbot …`).
import './quiet-warnings.js';
import { runCli } from './front/cli.js';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`drbot: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
