// The command registry: one file per command under src/cli/commands/, each exporting a
// CliCommand (src/cli/command.ts); main.ts registers every entry of COMMANDS, in this order, and
// gives each the shared --json option and the error handling and exit codes. Adding a command is
// its file plus its line here.

import type { CliCommand } from '../command.js';
import { bench } from './bench.js';
import { evalCommand } from './eval.js';
import { info } from './info.js';
import { ocrCommand } from './ocr.js';
import { optimizeCommand } from './optimize.js';
import { run } from './run.js';
import { train } from './train.js';

export const COMMANDS: readonly CliCommand[] = [
  optimizeCommand,
  run,
  evalCommand,
  bench,
  info,
  ocrCommand,
  train,
];
