/**
 * Block Kit size limits as Slack enforces them on chat.postMessage, chat.update,
 * chat.postEphemeral, views.open and response_url posts. The fake Slack runs every payload through
 * `checkBlockKitLimits` so a message that would be rejected in production is rejected in tests too.
 *
 * Paths are JSON pointers and messages use Slack's wording ("must be less than 51 items
 * [json-pointer:/blocks]") so a failing test reads like the real `errors` array.
 */

/** One broken limit, found in one payload. */
export interface BlockKitViolation {
  /** Web API method (or `response_url`) whose payload broke the limit. */
  method: string;
  /** JSON pointer into the decoded body, e.g. `/blocks/3/text/text`. */
  path: string;
  /** Short rule name, e.g. `button.text`, `blocks.count`. */
  rule: string;
  limit: number;
  actual: number;
  /** The line Slack puts in its `errors` array for this violation. */
  message: string;
}

/** Limits in characters (text) or items (arrays), from Slack's Block Kit reference. */
export const BLOCK_KIT_LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  topLevelText: 40_000,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  actionId: 255,
  blockId: 255,
  contextElements: 10,
  actionsElements: 25,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  viewTitle: 24,
} as const;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Counts code points, not UTF-16 units, so one emoji is one character as Slack shows it. */
function charCount(text: string): number {
  return [...text].length;
}

/** Text of a composition text object (`{type, text}`) or a bare string; undefined otherwise. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.text === 'string') return value.text;
  return undefined;
}

class Checker {
  readonly found: BlockKitViolation[] = [];

  constructor(private readonly method: string) {}

  text(value: unknown, path: string, rule: string, limit: number): void {
    const text = textOf(value);
    if (text === undefined) return;
    const actual = charCount(text);
    if (actual > limit) this.add(path, rule, limit, actual, 'characters');
  }

  count(value: unknown, path: string, rule: string, limit: number): void {
    if (!Array.isArray(value) || value.length <= limit) return;
    this.add(path, rule, limit, value.length, 'items');
  }

  private add(path: string, rule: string, limit: number, actual: number, unit: string): void {
    const message = `must be less than ${limit + 1} ${unit} [json-pointer:${path}]`;
    this.found.push({ method: this.method, path, rule, limit, actual, message });
  }

  blocks(blocks: unknown, path: string, max: number): void {
    if (!Array.isArray(blocks)) return;
    this.count(blocks, path, 'blocks.count', max);
    blocks.forEach((block, i) => {
      this.block(block, `${path}/${i}`);
    });
  }

  block(block: unknown, path: string): void {
    if (!isObject(block)) return;
    this.text(block.block_id, `${path}/block_id`, 'block_id', BLOCK_KIT_LIMITS.blockId);
    switch (block.type) {
      case 'section':
        this.text(block.text, `${path}/text/text`, 'section.text', BLOCK_KIT_LIMITS.sectionText);
        this.count(block.fields, `${path}/fields`, 'section.fields.count', BLOCK_KIT_LIMITS.sectionFields);
        if (Array.isArray(block.fields)) {
          block.fields.forEach((field, i) => {
            const fieldPath = `${path}/fields/${i}/text`;
            this.text(field, fieldPath, 'section.fields.text', BLOCK_KIT_LIMITS.sectionFieldText);
          });
        }
        this.element(block.accessory, `${path}/accessory`);
        break;
      case 'header':
        this.text(block.text, `${path}/text/text`, 'header.text', BLOCK_KIT_LIMITS.headerText);
        break;
      case 'actions':
        this.count(block.elements, `${path}/elements`, 'actions.elements', BLOCK_KIT_LIMITS.actionsElements);
        this.elements(block.elements, `${path}/elements`);
        break;
      case 'context':
        this.count(block.elements, `${path}/elements`, 'context.elements', BLOCK_KIT_LIMITS.contextElements);
        break;
      case 'input':
        this.element(block.element, `${path}/element`);
        break;
      default:
        break;
    }
  }

  private elements(elements: unknown, path: string): void {
    if (!Array.isArray(elements)) return;
    elements.forEach((element, i) => {
      this.element(element, `${path}/${i}`);
    });
  }

  element(element: unknown, path: string): void {
    if (!isObject(element)) return;
    this.text(element.action_id, `${path}/action_id`, 'action_id', BLOCK_KIT_LIMITS.actionId);
    if (element.type === 'button') {
      this.text(element.text, `${path}/text/text`, 'button.text', BLOCK_KIT_LIMITS.buttonText);
      this.text(element.value, `${path}/value`, 'button.value', BLOCK_KIT_LIMITS.buttonValue);
      this.text(element.url, `${path}/url`, 'button.url', BLOCK_KIT_LIMITS.buttonUrl);
    }
    if (isObject(element.confirm)) this.confirm(element.confirm, `${path}/confirm`);
  }

  private confirm(confirm: Json, path: string): void {
    this.text(confirm.title, `${path}/title/text`, 'confirm.title', BLOCK_KIT_LIMITS.confirmTitle);
    this.text(confirm.text, `${path}/text/text`, 'confirm.text', BLOCK_KIT_LIMITS.confirmText);
    this.text(confirm.confirm, `${path}/confirm/text`, 'confirm.confirm', BLOCK_KIT_LIMITS.confirmButton);
    this.text(confirm.deny, `${path}/deny/text`, 'confirm.deny', BLOCK_KIT_LIMITS.confirmButton);
  }
}

/**
 * Checks a decoded request body (message, ephemeral, update, response_url post or `view`) against
 * Slack's Block Kit limits and returns every violation found (empty when the payload is fine).
 * `blocks` or `attachments` that are still strings here failed to decode as JSON; they are
 * reported as `blocks.json` so the fake can answer `invalid_blocks_format`.
 */
export function checkBlockKitLimits(method: string, body: Json): BlockKitViolation[] {
  const check = new Checker(method);
  check.text(body.text, '/text', 'text', BLOCK_KIT_LIMITS.topLevelText);
  for (const key of ['blocks', 'attachments'] as const) {
    if (typeof body[key] === 'string') {
      check.found.push({
        method,
        path: `/${key}`,
        rule: 'blocks.json',
        limit: 0,
        actual: 0,
        message: `${key} is not valid JSON [json-pointer:/${key}]`,
      });
    }
  }
  check.blocks(body.blocks, '/blocks', BLOCK_KIT_LIMITS.messageBlocks);
  if (Array.isArray(body.attachments)) {
    body.attachments.forEach((attachment, i) => {
      if (isObject(attachment)) {
        check.blocks(attachment.blocks, `/attachments/${i}/blocks`, BLOCK_KIT_LIMITS.messageBlocks);
      }
    });
  }
  if (isObject(body.view)) {
    const view = body.view;
    // Modals and Home tabs allow twice the blocks of a message, and short titles.
    check.blocks(view.blocks, '/view/blocks', BLOCK_KIT_LIMITS.viewBlocks);
    for (const key of ['title', 'submit', 'close'] as const) {
      check.text(view[key], `/view/${key}/text`, `view.${key}`, BLOCK_KIT_LIMITS.viewTitle);
    }
  }
  return check.found;
}
