// The command registry: one file per command under src/cli/commands/, each exporting a
// CliCommand; main.ts registers every entry of COMMANDS, in this order, and gives each the
// shared --json option and the error handling and exit codes. Adding a command is its file plus
// its line here.

import type { Command } from 'commander';
import type { Io } from '../common.js';
import { bench } from './bench.js';
import { evalCommand } from './eval.js';
import { info } from './info.js';
import { optimizeCommand } from './optimize.js';
import { run } from './run.js';
import { train } from './train.js';

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

export const COMMANDS: readonly CliCommand[] = [
  optimizeCommand,
  run,
  evalCommand,
  bench,
  info,
  train,
];
