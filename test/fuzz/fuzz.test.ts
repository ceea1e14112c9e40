// A bounded fuzz run in CI (fixed seed; scripts/fuzz.ts runs as many cases as asked): every
// mutated model, artifact and image either works or gets one of deftnn's own errors, in worker
// processes so that a crash or a hang is counted instead of ending the test run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outcomeTable, runFuzz } from './pool.js';

const SEED = 20261206;

test(`fuzzed models, artifacts and images keep the contract (seed ${SEED})`, { timeout: 600_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'deftnn-fuzz-ci-'));
  const s = await runFuzz({ seed: SEED, cases: { model: 150, artifact: 250, image: 250 }, jobs: 2, timeoutMs: 60_000, gpuEvery: 10, cliEvery: 25, out, recycle: 500 });
  console.log(outcomeTable(s));
  const failures = s.failures.map((f) => `${f.kind} #${f.index} ${f.outcome} at ${f.stage}: ${f.what}\n    ${f.message}`);
  assert.deepEqual(failures, [], `cases that broke the contract (saved under ${out}):\n${failures.join('\n')}`);
  // The run reached both sides of the contract for every kind: some inputs work, some are refused.
  for (const [kind, k] of Object.entries(s.byKind)) {
    assert.ok(k!.counts.ok > 0 && k!.counts.clear > 0, `${kind}: ${JSON.stringify(k!.counts)}`);
  }
});
