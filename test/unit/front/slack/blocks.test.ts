// Block Kit builders: every Slack limit applied, and text from outside escaped.
import { describe, expect, it } from 'vitest';
import {
  button,
  capBlocks,
  codeBlocks,
  fields,
  LIMITS,
  section,
} from '../../../../src/front/slack/blocks.js';
import { checkBlockKitLimits } from '../../../fakes/block-kit-limits.js';

describe('Block Kit builders stay within Slack limits', () => {
  it('splits long output into code sections of at most 3000 characters, with a pointer for the rest', () => {
    const text = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(60)}`).join('\n');

    const blocks = codeBlocks(text, 'full output: `/dr run run-9`', 8);

    expect(blocks).toHaveLength(9);
    for (const b of blocks.slice(0, 8))
      expect((b.text as { text: string }).text.length).toBeLessThanOrEqual(LIMITS.sectionText);
    expect(JSON.stringify(blocks[8])).toMatch(/more part\(s\) not shown: full output: `\/dr run run-9`/);
    expect(checkBlockKitLimits('chat.postMessage', { blocks })).toEqual([]);
  });

  it('caps a message at 50 blocks, saying how many were left out', () => {
    const many = Array.from({ length: 80 }, (_, i) => section(`row ${i}`));

    const capped = capBlocks(many, 'see `/dr run run-3`');

    expect(capped).toHaveLength(50);
    expect(JSON.stringify(capped[49])).toMatch(/31 more block\(s\) not shown: see `\/dr run run-3`/);
    expect(checkBlockKitLimits('chat.postMessage', { blocks: capped })).toEqual([]);
  });

  it('clips section text, fields, button text and confirm dialogs', () => {
    const blocks = [
      section('a'.repeat(5000), '(truncated)'),
      fields(Array.from({ length: 14 }, () => 'f'.repeat(2500))),
      {
        type: 'actions',
        elements: [
          button('B'.repeat(100), 'act', 'v'.repeat(3000), 'primary', {
            title: 'T'.repeat(200),
            text: 'x'.repeat(500),
            confirm: 'C'.repeat(40),
            deny: 'D'.repeat(40),
          }),
        ],
      },
    ];

    expect(checkBlockKitLimits('chat.postMessage', { blocks })).toEqual([]);
    expect((blocks[0] as { text: { text: string } }).text.text).toMatch(/… \(truncated\)$/);
  });
});

describe('codeBlocks: text from outside', () => {
  it('escapes what Slack reads as markup, so a label value mentions nobody', () => {
    const blocks = codeBlocks("volume x: tier '<!channel>' & <@U1> <https://evil|click>", 'p');

    const text = (blocks[0]?.text as { text: string } | undefined)?.text;
    expect(text).toBe("```volume x: tier '&lt;!channel&gt;' &amp; &lt;@U1&gt; &lt;https://evil|click&gt;```");
  });
});
