// The text answer of a verify or test run: checks per target, deep results, failures.
import type { VerifyOutcome } from '../src/engine/verify/verify.js';
import { span, table } from './format.js';

/** The text both `verify` and `test` answer with. */
export function verifyText(title: string, o: VerifyOutcome): string {
  const lines = [
    `${o.status === 'succeeded' ? '✓' : '✗'} ${o.run.id} ${title}: ${o.status === 'succeeded' ? 'passed' : 'FAILED'}`,
  ];
  if (o.checks.length) {
    lines.push('', 'checksums (read back from every target):');
    lines.push(
      table([
        ['ASSET', 'FILE', 'TARGET', 'RESULT'],
        ...o.checks.map((c) => [
          c.asset,
          c.file,
          c.target,
          c.ok ? `ok — ${c.detail}` : `FAILED — ${c.detail}`,
        ]),
      ]),
    );
  }
  if (o.deep.length) {
    lines.push('', 'restore into scratch:');
    lines.push(
      table([
        ['ASSET', 'SET', 'TOOK', 'RESULT'],
        ...o.deep.map((d) => [
          d.asset,
          d.setId,
          span(d.ms),
          d.ok ? `pass — ${d.detail}` : `FAIL — ${d.detail}`,
        ]),
      ]),
    );
  }
  const shown = new Set([
    ...o.checks.filter((c) => !c.ok).map((c) => c.asset),
    ...o.deep.filter((d) => !d.ok).map((d) => d.asset),
  ]);
  const other = o.failures.filter(
    (f) => ![...shown].some((a) => f.startsWith(`${a} `) || f.startsWith(`${a}:`)),
  );
  for (const f of other) lines.push(`! ${f}`);
  return lines.join('\n');
}
