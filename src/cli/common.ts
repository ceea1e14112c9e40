// What every command shares: errors with exit codes, the output channel (human text on stdout, or
// one JSON document with --json), progress bars on stderr, and option parsers.
//
// Exit codes: 0 success; 1 the command ran and failed (an unreadable or unsupported model, a GPU
// failure, a failed training run); 2 a usage error (unknown command or option, a bad option value,
// a file that does not exist, a shape the command needs and was not given).

import cliProgress from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { DeftnnError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error the CLI reports as one line (plus a hint), with its exit code. */
export class CliError extends DeftnnError {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** The command was called wrongly; exit code 2. */
export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/** Where a command writes: human lines (dropped with --json, whose document main() prints). */
export interface Io {
  readonly json: boolean;
  /** A line for people on stdout (nothing in --json mode). */
  out(line?: string): void;
  /** A note on stderr (also in --json mode: stdout stays one JSON document). */
  note(line: string): void;
}

export function makeIo(json: boolean): Io {
  return {
    json,
    out: (line = '') => {
      if (!json) process.stdout.write(line + '\n');
    },
    note: (line) => process.stderr.write(line + '\n'),
  };
}

/** A progress bar on stderr when it is a terminal; silent otherwise (logs and pipes stay clean). */
export function progressBar(label: string, total: number): { tick(n?: number, fields?: Record<string, string>): void; stop(): void } {
  if (!process.stderr.isTTY || total <= 0) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {info}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: '' });
  let done = 0;
  return {
    tick(n = 1, fields = {}) {
      done += n;
      bar.update(done, { info: Object.values(fields).join(' ') });
    },
    stop: () => bar.stop(),
  };
}

/** One step of long work that runs through named stages (total 0 when unknown). */
export interface StageProgress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly detail?: string;
}

/**
 * Progress through stages: on a terminal a bar per stage; otherwise a note when a stage starts
 * and at each tenth of it, so that a log shows progress without a line per step.
 */
export function stagedProgress(io: Io): { update(p: StageProgress): void; stop(): void } {
  let stage = '';
  let bar: ReturnType<typeof progressBar> | undefined;
  let shown = 0;
  let tenth = -1;
  return {
    update(p) {
      if (p.stage !== stage) {
        bar?.stop();
        stage = p.stage;
        bar = process.stderr.isTTY && p.total > 0 ? progressBar(`  ${stage}`, p.total) : undefined;
        shown = 0;
        tenth = -1;
      }
      if (bar) {
        bar.tick(p.done - shown, { detail: p.detail ?? '' });
        shown = p.done;
        return;
      }
      const t = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 0;
      if (t === tenth) return;
      tenth = t;
      io.note(`  ${p.stage} ${p.done}${p.total ? `/${p.total}` : ''}${p.detail ? ` ${p.detail}` : ''}`);
    },
    stop() {
      bar?.stop();
      bar = undefined;
      stage = '';
    },
  };
}

/** A file that must exist (a usage error otherwise, naming the option). */
export function existingFile(path: string, what: string): string {
  if (!existsSync(path)) throw new UsageError(`${what} '${path}' does not exist`);
  if (!statSync(path).isFile()) throw new UsageError(`${what} '${path}' is not a file`);
  return path;
}

// ---- option parsers (commander calls them; InvalidArgumentError becomes exit code 2) ----

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}

export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got '${v}'`);
  return n;
}

export function positiveIntList(v: string): number[] {
  return v.split(',').map((s) => positiveInt(s.trim()));
}

export function numberList(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x))) throw new InvalidArgumentError(`expected numbers separated by commas, got '${v}'`);
  return xs;
}

export type BackendChoice = 'webgpu' | 'cpu';

export function backendOption(v: string): BackendChoice {
  if (v !== 'webgpu' && v !== 'cpu') throw new InvalidArgumentError(`expected 'webgpu' or 'cpu', got '${v}'`);
  return v;
}

export function backendList(v: string): BackendChoice[] {
  return v.split(',').map((s) => backendOption(s.trim()));
}

/**
 * `--input-shape name=1,3,48,192` (repeatable; the name may be left out when the model has one
 * input, written then under the key ''), collected into one record.
 */
export function inputShapeOption(v: string, previous: Record<string, number[]> = {}): Record<string, number[]> {
  const m = /^(?:([^=]+)=)?([\d,\s]+)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected NAME=D1,D2,... (e.g. x=1,3,48,192), got '${v}'`);
  return { ...previous, [m[1]?.trim() ?? '']: positiveIntList(m[2]) };
}

/** Per-channel values for C channels from a list of 1 or C numbers. */
export function perChannel(values: readonly number[], C: number, what: string): number[] {
  if (values.length === 1) return Array(C).fill(values[0]);
  if (values.length !== C) throw new UsageError(`${what} has ${values.length} values; the model's input has ${C} channels: give 1 or ${C}`);
  return [...values];
}

/** "1.23 M" style numbers for tables. */
export function humanCount(x: number, unit = ''): string {
  const a = Math.abs(x);
  const [d, s] = a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e3 ? [1e3, 'k'] : [1, ''];
  const v = x / d;
  return `${d === 1 ? String(Math.round(v)) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)}${s ? ' ' + s : s}${unit ? (s ? '' : ' ') + unit : ''}`;
}

/** A plain-text table with aligned columns (numbers right-aligned). */
export function textTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  // A column is numeric (right-aligned) when every non-empty cell is a number, possibly with a unit.
  const numeric = (c: string | number | undefined) => typeof c === 'number' || c === '' || /^[-\d.,]+( ?[kMG%]?\w*)?$/.test(String(c));
  const right = header.map((_, i) => rows.some((r) => r[i] !== '') && rows.every((r) => numeric(r[i])));
  const line = (r: readonly string[]) => r.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
}

/**
 * Write a whole file or nothing: the bytes go to a temporary file beside `path`, which is renamed
 * over it (atomic on POSIX), so a crash, a full disk or a kill mid-write never leaves half a file
 * under the name (a reader sees the old file or the new one).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new CliError(`cannot write '${path}': ${(e as Error).message}`);
  }
}
