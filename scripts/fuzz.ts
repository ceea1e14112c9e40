// deftnn's fuzzer: mutated ONNX models, .deft artifacts and images against the contract of
// test/fuzz/check.ts (works, or a deftnn error that says what is wrong; never a crash, a hang, a
// foreign error, a lost device). Seeded: case i of a kind under seed s is always the same bytes.
//
//   npx tsx scripts/fuzz.ts --models 10000 --artifacts 2000 --images 2000 --seed 1 --out fuzz-out
//   npx tsx scripts/fuzz.ts --kind model --seed 1 --first 4711 --cases 1      (replay one case)
//
// Prints progress every --every cases, then the outcome table by kind and every failing case
// (each also saved under --out with its bytes and a replay command). Exit code 1 when any case
// broke the contract.

import { execSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KINDS, type Kind } from '../test/fuzz/cases.js';
import { outcomeTable, runFuzz } from '../test/fuzz/pool.js';

const { values: a } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    models: { type: 'string' },
    artifacts: { type: 'string' },
    images: { type: 'string' },
    kind: { type: 'string' },
    cases: { type: 'string' },
    first: { type: 'string', default: '0' },
    jobs: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '60' },
    'gpu-every': { type: 'string', default: '10' },
    'cli-every': { type: 'string', default: '25' },
    out: { type: 'string', default: 'fuzz-out' },
    every: { type: 'string', default: '100' },
    verbose: { type: 'boolean', default: false },
  },
});

const n = (s: string | undefined, what: string) => {
  const v = Number(s);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${what} must be a whole number, got ${s}`);
  return v;
};
const cases: Partial<Record<Kind, number>> = {};
if (a.kind) {
  if (!KINDS.includes(a.kind as Kind)) throw new Error(`--kind must be one of ${KINDS.join(', ')}`);
  cases[a.kind as Kind] = n(a.cases ?? '100', 'cases');
} else {
  cases.model = n(a.models ?? '200', 'models');
  cases.artifact = n(a.artifacts ?? '200', 'artifacts');
  cases.image = n(a.images ?? '200', 'images');
}
const seed = n(a.seed, 'seed');
const every = n(a.every, 'every');
const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
console.log(`deftnn fuzz: seed ${seed}, commit ${commit}, cases ${JSON.stringify(cases)}, ${a.jobs} job(s), ${a.timeout} s per case, WebGPU every ${a['gpu-every']}, CLI every ${a['cli-every']}`);
// Every case's result, one JSON line each, for reading the clear errors' messages afterwards.
mkdirSync(a.out!, { recursive: true });
const log = join(a.out!, `results-s${seed}.jsonl`);
writeFileSync(log, '');
let done = 0;
const summary = await runFuzz({
  seed,
  cases,
  first: n(a.first, 'first'),
  jobs: n(a.jobs, 'jobs'),
  timeoutMs: n(a.timeout, 'timeout') * 1000,
  gpuEvery: n(a['gpu-every'], 'gpu-every'),
  cliEvery: n(a['cli-every'], 'cli-every'),
  out: a.out,
  recycle: 500,
  onResult: (r) => {
    done++;
    appendFileSync(log, JSON.stringify(r) + '\n');
    if (a.verbose || !['ok', 'ok-unrun', 'clear'].includes(r.outcome)) console.log(`${r.kind} #${r.index} ${r.outcome}${r.stage ? ` at ${r.stage}` : ''}: ${r.what ?? ''}${r.message ? `\n    ${r.message.split('\n')[0].slice(0, 300)}` : ''}`);
    if (every && done % every === 0) console.log(`... ${done} cases, ${new Date().toISOString()}`);
  },
});
console.log(`\nseed ${seed}, commit ${commit}, wall ${summary.wallSeconds.toFixed(0)} s\n`);
console.log(outcomeTable(summary));
if (summary.failures.length) {
  console.log(`\n${summary.failures.length} case(s) broke the contract; saved under ${a.out}/`);
  process.exitCode = 1;
}
