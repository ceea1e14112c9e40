// ONNX's backend node tests (libonnx-testdata, see nodesuite.ts) on the CPU reference and on
// WebGPU. Every float32 case must either pass (rtol 1e-3, atol 1e-7, as ONNX's runner) or be
// refused with a clear deftnn error whose reason is listed in node-unsupported.json; a wrong answer
// always fails, and so does a listed case that now passes (take it off the list:
// `npx tsx scripts/onnx-node-tests.ts --write` rewrites the list from a run of both backends).
// Prints the pass counts per op. All ~640 cases on both backends take ~40 s on lavapipe.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { testGpu } from '../helpers.js';
import { isClearRefusal, listCases, listedReason, NODE_TEST_DIR, reasonOf, runCase, type Backend, type Outcome } from './nodesuite.js';

const LIST: Record<string, string> = JSON.parse(readFileSync(new URL('./node-unsupported.json', import.meta.url), 'utf8'));
const installed = existsSync(NODE_TEST_DIR);
if (!installed && process.env.CI === 'true') throw new Error(`CI=true but ${NODE_TEST_DIR} is missing: install Debian's libonnx-testdata (setup.sh does)`);

const gpu = await testGpu();
const { cases } = await listCases();
const backends: Backend[] = gpu ? ['cpu', 'webgpu'] : ['cpu'];

/** What is wrong with outcome `o` of case `name` on `backend` against the list; null if it is as expected. */
function problem(name: string, backend: Backend, o: Outcome): string | null {
  const listed = listedReason(LIST, name, backend);
  if (o.kind === 'wrong') return `WRONG ANSWER: ${o.message}`;
  if (o.kind === 'pass') return listed === undefined ? null : `passes now: take it off node-unsupported.json (listed: ${listed})`;
  if (o.kind === 'error' && !isClearRefusal(o)) return `crashed instead of a clear refusal: ${o.errorName}: ${o.message}`;
  if (listed === undefined) return `refused, and not listed as unsupported: ${o.message}`;
  if (!reasonOf(o.message).includes(listed)) return `refused for another reason than listed:\n  now:    ${reasonOf(o.message)}\n  listed: ${listed}`;
  return null;
}

test('ONNX backend node tests: every float32 case passes or is a listed, clear refusal', { skip: !installed && `${NODE_TEST_DIR} is not installed` }, async () => {
  assert.ok(cases.length > 500, `expected the ~640 float32 cases of ONNX 1.12's node tests, found ${cases.length}`);
  const byOp = new Map<string, Record<string, number>>();
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const backend of backends) {
    for (const c of cases) {
      const o = await runCase(c, backend, gpu);
      const counts = byOp.get(c.op) ?? {};
      counts.cases = (counts.cases ?? 0) + (backend === 'cpu' ? 1 : 0);
      counts[`${backend}:${o.kind}`] = (counts[`${backend}:${o.kind}`] ?? 0) + 1;
      byOp.set(c.op, counts);
      const p = problem(c.name, backend, o);
      if (p) problems.push(`${c.name} [${backend}]: ${p}`);
      seen.add(c.name);
    }
  }
  const stale = Object.keys(LIST).filter((k) => !seen.has(k.split('@')[0]));
  for (const k of stale) problems.push(`${k}: listed in node-unsupported.json but not a float32 case of the suite`);

  const col = (r: Record<string, number>, k: string) => String(r[k] ?? 0);
  const rows = [...byOp].sort(([a], [b]) => a.localeCompare(b));
  const head = ['op', 'cases', ...backends.flatMap((b) => [`${b} pass`, `${b} const`])];
  const lines = rows.map(([op, r]) => [op, col(r, 'cases'), ...backends.flatMap((b) => [col(r, `${b}:pass`), col(r, `${b}:pass-const`)])]);
  const total = (k: string) => rows.reduce((s, [, r]) => s + (r[k] ?? 0), 0);
  lines.push(['all', String(cases.length), ...backends.flatMap((b) => [String(total(`${b}:pass`)), String(total(`${b}:pass-const`))])]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (l: string[]) => l.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  console.log(`\nONNX node tests (float32 cases; 'const': refused as given, right once its run-time inputs are constants)\n${fmt(head)}\n${lines.map(fmt).join('\n')}\n`);
  assert.equal(problems.length, 0, `${problems.length} node test case(s) not as expected:\n${problems.join('\n')}`);
});
