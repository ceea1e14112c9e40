// What one `deftnn` command is. It sits below the commands and their registry
// (src/cli/commands/index.ts) so that a command file never imports the list it is part of.

import type { Command } from 'commander';
import type { Io } from './common.js';

export interface CliCommand {
  /** The command's name, as typed after `deftnn`. */
  readonly name: string;
  /** Declare the description, arguments and options (not --json: main adds it to every command). */
  configure(cmd: Command): void;
  /**
   * Do the work: `args` are commander's processed arguments, `opts` its options. Human output goes
   * through `io.out`; the returned value is the --json document.
   */
  action(args: unknown[], opts: Record<string, unknown>, io: Io): Promise<unknown>;
}
