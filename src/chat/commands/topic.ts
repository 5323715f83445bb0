import { ErrorCode } from '../messages.js';
import { TOPIC_MAX } from '../moderation.js';
import { checkMessageText } from '../text.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/**
 * `/topic`: shows the topic. `/topic TEXT` (operators): sets it, on one line
 * (newlines become spaces), with the rules of message text; `/topic -`
 * clears it.
 */
export const topic: Command = {
  name: 'topic',
  usage: '/topic [TEXT | -]',
  help: 'show the topic; operators set it (- clears it)',
  requires: 'joined',
  console: true,
  async run(ctx) {
    const mod = ctx.moderation!;
    if (ctx.args === '') {
      answer(ctx, await mod.showTopic());
      return;
    }
    if (ctx.args === '-') {
      answer(ctx, await mod.topic(null));
      return;
    }
    const check = checkMessageText(ctx.args.replace(/\s*\n\s*/g, ' '), TOPIC_MAX);
    if (!check.ok) {
      ctx.fail(check.code, check.code === ErrorCode.MESSAGE_TOO_LONG ? `a topic is at most ${TOPIC_MAX} characters` : check.message);
      return;
    }
    answer(ctx, await mod.topic(check.text));
  },
};
