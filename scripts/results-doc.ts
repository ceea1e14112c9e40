// docs/results.md is written by several scripts, one "## " section each: a script replaces its
// own section and keeps the others.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const RESULTS_DOC = 'docs/results.md';

/** Replace the section starting with `heading` (up to the next "## ") with `section`, or append it. */
export function writeResultsSection(heading: string, section: string, path = RESULTS_DOC): void {
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '# Results\n';
  const start = old.indexOf(heading);
  const end = start < 0 ? -1 : old.indexOf('\n## ', start + heading.length);
  const next = start < 0 ? `${old.trimEnd()}\n\n${section}` : old.slice(0, start) + section + (end < 0 ? '' : old.slice(end + 1));
  writeFileSync(path, next);
}
