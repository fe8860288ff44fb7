// The interactive terminal session (`npm start` without Slack secrets).
import { createInterface } from 'node:readline';
import { splitWords } from '../../commands/parse.js';
import type { Engine } from '../engine/engine.js';
import type { Logger } from '../log.js';
import { dispatch } from './dispatch.js';

/**
 * The terminal session `npm start` opens when no Slack secrets are set: type `/dr status`
 * (or just `status`) and see the same messages Slack would show, as text.
 */
export async function runTerminal(
  engine: Engine,
  log: Logger,
  io: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream; user: string },
): Promise<void> {
  const rl = createInterface({ input: io.input, terminal: false });
  const say = (text: string) => io.output.write(`${text}\n`);
  say('drbot terminal session (no Slack secrets set). Type /dr help, or exit to leave.');
  io.output.write('drbot> ');
  for await (const line of rl) {
    const words = splitWords(line.trim());
    if (words[0] === '/dr') words.shift();
    if (words[0] === 'exit' || words[0] === 'quit') break;
    if (words.length) {
      const reply = await dispatch(words, { engine, requester: `terminal:${io.user}`, log });
      say(reply.text);
    }
    io.output.write('drbot> ');
  }
  rl.close();
}
