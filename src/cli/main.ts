// The `deftnn` command line: commander parses, each command lives in its own file
// (commands/index.ts lists them), and this file turns what happened into one exit code:
// 0 done, 1 the command failed, 2 it was called wrongly (see common.ts). Errors are one line on
// stderr that says what to do; with --json, stdout also gets { "error": { message, exitCode } }
// so that a machine reading stdout always finds one JSON document.

import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { GpuError } from '../device/gpu.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, makeIo } from './common.js';
import { COMMANDS } from './commands/index.js';

function version(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A hint for errors that are not the CLI's own (the message already says what went wrong). */
function hint(e: unknown): string {
  if (e instanceof GpuError) return ' (try --backend cpu to run on the CPU reference backend)';
  return '';
}

/** Run the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const program = new Command('deftnn')
    .description('Faster CNN inference on WebGPU: run, evaluate, benchmark, inspect and train models (ONNX or .deft)')
    .version(version())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  let result: unknown;
  let ran: string | undefined;
  for (const c of COMMANDS) {
    const cmd = program.command(c.name).exitOverride();
    c.configure(cmd);
    cmd.addOption(new Option('--json', 'print one JSON document on stdout instead of text'));
    cmd.action(async () => {
      ran = c.name;
      const opts = cmd.opts();
      result = await c.action(cmd.processedArgs, opts, makeIo(!!opts.json));
    });
  }
  try {
    if (!argv.length) {
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    if (json && result !== undefined) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end here too; everything else commander throws is a usage error.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      if (json) process.stdout.write(JSON.stringify({ error: { message: e.message.replace(/^error: /, ''), exitCode: EXIT_USAGE } }, null, 2) + '\n');
      return EXIT_USAGE;
    }
    const code = e instanceof CliError ? e.exitCode : EXIT_FAILURE;
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`deftnn${ran ? ' ' + ran : ''}: error: ${message}${hint(e)}\n`);
    if (process.env.DEFTNN_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    if (json) process.stdout.write(JSON.stringify({ error: { message, exitCode: code } }, null, 2) + '\n');
    return code;
  }
}
