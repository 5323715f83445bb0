import { ErrorCode } from '../messages.js';
import type { Command } from './command.js';

/** `/help [COMMAND]`: the list of commands, or one command's usage. */
export const help: Command = {
  name: 'help',
  usage: '/help [COMMAND]',
  help: 'list the commands, or explain one',
  requires: 'nothing',
  run(ctx) {
    if (ctx.args === '') {
      const width = Math.max(...ctx.commands.map((c) => c.usage.length));
      const lines = ctx.commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.help}`);
      ctx.reply(['Commands:', ...lines, 'A line starting with // sends a message starting with /.'].join('\n'));
      return;
    }
    const name = ctx.args.replace(/^\//, '').toLowerCase();
    const command = ctx.commands.find((c) => c.name === name);
    if (command === undefined) {
      ctx.fail(ErrorCode.UNKNOWN_COMMAND, `no command /${name.slice(0, 32)}; type /help for the list`);
      return;
    }
    ctx.reply(`${command.usage}: ${command.help}`);
  },
};
