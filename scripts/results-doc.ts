// docs/results.md is written by several scripts, one "## " section each: a script replaces its
// own section and keeps the others.

import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Gpu } from '../src/device/gpu.js';

export const RESULTS_DOC = 'docs/results.md';

/** Replace the section starting with `heading` (up to the next "## ") with `section`, or append it. */
export function writeResultsSection(heading: string, section: string, path = RESULTS_DOC): void {
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '# Results\n';
  const start = old.indexOf(heading);
  const end = start < 0 ? -1 : old.indexOf('\n## ', start + heading.length);
  const next = start < 0 ? `${old.trimEnd()}\n\n${section}` : old.slice(0, start) + section + (end < 0 ? '' : old.slice(end + 1));
  writeFileSync(path, next);
}

/** What a results script measures with and records: the adapter, the commit and date, and a log
 * that prints each line and keeps it for the section. */
export async function startResults(script: string): Promise<{ gpu: Gpu; commit: string; date: string; lines: string[]; log: (s: string) => void }> {
  const gpu = await Gpu.acquire();
  if (!gpu) throw new Error(`${script} measures on WebGPU; no adapter was found`);
  const lines: string[] = [];
  return {
    gpu,
    commit: execSync('git rev-parse --short HEAD').toString().trim(),
    date: new Date().toISOString().slice(0, 10),
    lines,
    log: (s) => {
      console.log(s);
      lines.push(s);
    },
  };
}
