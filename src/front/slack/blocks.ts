// Block Kit builders that keep every message within Slack's limits.
/**
 * Block Kit helpers that never produce what Slack rejects: every limit is applied here, and
 * long output is cut with a pointer to where the whole of it can be read.
 */
export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  buttonText: 75,
  contextElements: 10,
  messageText: 40000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
} as const;

export type Block = Record<string, unknown>;

export function clip(text: string, max: number, pointer = ''): string {
  if (text.length <= max) return text;
  const tail = pointer ? `… ${pointer}` : '…';
  return `${text.slice(0, Math.max(0, max - tail.length))}${tail}`;
}

export const mrkdwn = (text: string) => ({ type: 'mrkdwn', text: clip(text, LIMITS.sectionText) });

export function section(text: string, pointer = ''): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text, LIMITS.sectionText, pointer) } };
}

export function fields(items: string[]): Block {
  return {
    type: 'section',
    fields: items.slice(0, LIMITS.fields).map((t) => ({ type: 'mrkdwn', text: clip(t, LIMITS.fieldText) })),
  };
}

export function context(items: string[]): Block {
  return {
    type: 'context',
    elements: items
      .slice(0, LIMITS.contextElements)
      .map((t) => ({ type: 'mrkdwn', text: clip(t, LIMITS.sectionText) })),
  };
}

export function button(
  text: string,
  actionId: string,
  value: string,
  style?: 'primary' | 'danger',
  confirm?: { title: string; text: string; confirm: string; deny: string },
): Block {
  return {
    type: 'button',
    text: { type: 'plain_text', text: clip(text, LIMITS.buttonText), emoji: true },
    action_id: actionId,
    value: clip(value, 2000),
    ...(style ? { style } : {}),
    ...(confirm
      ? {
          confirm: {
            title: { type: 'plain_text', text: clip(confirm.title, LIMITS.confirmTitle) },
            text: { type: 'mrkdwn', text: clip(confirm.text, LIMITS.confirmText) },
            confirm: { type: 'plain_text', text: clip(confirm.confirm, LIMITS.confirmButton) },
            deny: { type: 'plain_text', text: clip(confirm.deny, LIMITS.confirmButton) },
            ...(style === 'danger' ? { style: 'danger' } : {}),
          },
        }
      : {}),
  };
}

/**
 * Escapes the three characters Slack reads as markup in any text (`<!channel>`, `<@U…>`,
 * `<url|label>`), so plain text shows as written and mentions nobody.
 */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * Plain text (tables from the commands) as code blocks: split across sections at line
 * boundaries, at most `maxSections`, the rest replaced by a pointer. The text is escaped: it
 * holds names and label values from outside (a label `<!channel>` must not page a channel).
 */
export function codeBlocks(text: string, pointer: string, maxSections = 8): Block[] {
  const budget = LIMITS.sectionText - 8; // the ``` fences
  const chunks: string[] = [];
  let current = '';
  for (const line of escapeMrkdwn(text.replaceAll('```', "'''")).split('\n')) {
    const l = clip(line, budget);
    if (current.length + l.length + 1 > budget) {
      chunks.push(current);
      current = '';
    }
    current += `${current ? '\n' : ''}${l}`;
  }
  if (current) chunks.push(current);
  const shown = chunks.slice(0, maxSections).map((c) => section(`\`\`\`${c}\`\`\``));
  if (chunks.length > maxSections)
    shown.push(context([`… ${chunks.length - maxSections} more part(s) not shown: ${pointer}`]));
  return shown;
}

/** Keeps a message within 50 blocks, saying what was left out. */
export function capBlocks(blocks: Block[], pointer: string): Block[] {
  if (blocks.length <= LIMITS.blocks) return blocks;
  return [
    ...blocks.slice(0, LIMITS.blocks - 1),
    context([`… ${blocks.length - LIMITS.blocks + 1} more block(s) not shown: ${pointer}`]),
  ];
}

/** The message's fallback text (notifications, screen readers), within Slack's limit. */
export function fallback(text: string): string {
  return clip(text, LIMITS.messageText);
}
