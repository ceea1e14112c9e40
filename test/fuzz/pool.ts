// Runs fuzz cases in a pool of worker processes (worker.ts) with a time limit per case: a worker
// that exits without answering is a crash, one that does not answer in time a hang; either is
// counted, the case saved, and a fresh worker started. Every failing case is written to the out
// folder with its seed, index and description, so `scripts/fuzz.ts --replay` reproduces it.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCase, type Kind } from './cases.js';
import { FAILURES, OUTCOMES, type Outcome, type Result } from './check.js';
import type { Task } from './worker.js';

export interface FuzzOptions {
  readonly seed: number;
  /** Cases per kind. */
  readonly cases: Partial<Record<Kind, number>>;
  /** Index of the first case (to continue a run or replay one). */
  readonly first?: number;
  readonly jobs?: number;
  readonly timeoutMs?: number;
  /** Every n-th loadable case also runs on WebGPU (0: never), and every m-th through the CLI. */
  readonly gpuEvery?: number;
  readonly cliEvery?: number;
  /** Folder for failing cases (none saved when absent). */
  readonly out?: string;
  /** Start a fresh worker after this many cases (bounds what a slow leak can grow to). */
  readonly recycle?: number;
  readonly onResult?: (r: CaseResult) => void;
}

export interface CaseResult extends Result {
  readonly kind: Kind;
  readonly index: number;
  readonly what?: string;
  readonly base?: string;
  readonly ms: number;
}

export interface KindSummary {
  readonly cases: number;
  readonly counts: Record<Outcome, number>;
  /** Sum of the cases' own times, seconds. */
  readonly seconds: number;
}

export interface FuzzSummary {
  readonly byKind: Partial<Record<Kind, KindSummary>>;
  readonly failures: readonly CaseResult[];
  readonly wallSeconds: number;
}

const workerPath = fileURLToPath(new URL('./worker.ts', import.meta.url));

export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const first = o.first ?? 0;
  const tasks: Task[] = [];
  for (const [kind, n] of Object.entries(o.cases) as [Kind, number][]) {
    for (let i = first; i < first + n; i++) tasks.push({ kind, seed: o.seed, index: i, onGpu: !!o.gpuEvery && i % o.gpuEvery === 0, cli: !!o.cliEvery && i % o.cliEvery === 0 });
  }
  const byKind: Partial<Record<Kind, KindSummary>> = {};
  const failures: CaseResult[] = [];
  const start = performance.now();
  const record = async (r: CaseResult) => {
    const s = (byKind[r.kind] ??= { cases: 0, counts: Object.fromEntries(OUTCOMES.map((x) => [x, 0])) as Record<Outcome, number>, seconds: 0 });
    byKind[r.kind] = { cases: s.cases + 1, counts: { ...s.counts, [r.outcome]: s.counts[r.outcome] + 1 }, seconds: s.seconds + r.ms / 1000 };
    if (FAILURES.has(r.outcome)) {
      failures.push(r);
      if (o.out) await save(o.out, o.seed, r);
    }
    o.onResult?.(r);
  };
  let next = 0;
  const lane = async () => {
    let w: Worker | undefined;
    let done = 0;
    while (next < tasks.length) {
      const t = tasks[next++];
      if (!w || (o.recycle && done >= o.recycle)) {
        w?.kill();
        w = await startWorker();
        done = 0;
      }
      const r = await w.run(t, o.timeoutMs ?? 30_000);
      done++;
      if (r.outcome === 'crash' || r.outcome === 'hang') w = undefined;
      await record(r);
    }
    w?.kill();
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs ?? 1) }, lane));
  return { byKind, failures, wallSeconds: (performance.now() - start) / 1000 };
}

interface Worker {
  run(t: Task, timeoutMs: number): Promise<CaseResult>;
  kill(): void;
}

function startWorker(): Promise<Worker> {
  const child: ChildProcess = fork(workerPath, [], { execArgv: ['--import', 'tsx', '--max-old-space-size=3072'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
  return new Promise((resolve, reject) => {
    child.once('message', () =>
      resolve({
        kill: () => child.kill('SIGKILL'),
        run: (t, timeoutMs) =>
          new Promise((done) => {
            const t0 = performance.now();
            const finish = (r: CaseResult) => {
              clearTimeout(timer);
              child.off('message', onMessage);
              child.off('exit', onExit);
              done(r);
            };
            const onMessage = (m: CaseResult) => finish(m);
            const onExit = (code: number | null, signal: string | null) =>
              finish({ kind: t.kind, index: t.index, outcome: 'crash', stage: 'process', message: `worker exited (code ${code}, signal ${signal}): ${stderr.trim().slice(-600)}`, ms: performance.now() - t0 });
            const timer = setTimeout(() => {
              child.off('exit', onExit);
              child.kill('SIGKILL');
              finish({ kind: t.kind, index: t.index, outcome: 'hang', stage: 'process', message: `no answer in ${timeoutMs} ms`, ms: performance.now() - t0 });
            }, timeoutMs);
            child.on('message', onMessage);
            child.once('exit', onExit);
            stderr = '';
            child.send(t);
          }),
      }),
    );
    child.once('exit', (code) => reject(new Error(`fuzz worker did not start (exit ${code}): ${stderr}`)));
  });
}

const EXT: Record<Kind, string> = { model: 'onnx', artifact: 'deft', image: 'img' };

/** The failing case's bytes (rebuilt from its seed and index), any files beside it, and what happened. */
async function save(out: string, seed: number, r: CaseResult): Promise<void> {
  const c = await makeCase(r.kind, seed, r.index);
  const dir = join(out, `${r.kind}-s${seed}-${r.index}`);
  mkdirSync(dir, { recursive: true });
  const ext = r.kind === 'image' ? (c.bytes[0] === 0x89 ? 'png' : 'jpg') : EXT[r.kind];
  writeFileSync(join(dir, `case.${ext}`), c.bytes);
  for (const [name, bytes] of Object.entries(c.files)) writeFileSync(join(dir, name), bytes);
  const replay = `npx tsx scripts/fuzz.ts --kind ${r.kind} --seed ${seed} --first ${r.index} --cases 1`;
  writeFileSync(join(dir, 'case.json'), JSON.stringify({ kind: r.kind, seed, index: r.index, base: c.base, what: c.what, outcome: r.outcome, stage: r.stage, message: r.message, replay }, null, 2) + '\n');
}

/** The outcome table as Markdown: a row per kind. */
export function outcomeTable(s: FuzzSummary): string {
  const head = `| input | cases | ${OUTCOMES.join(' | ')} | case time (s) |`;
  const rows = Object.entries(s.byKind).map(([kind, k]) => `| ${kind} | ${k!.cases} | ${OUTCOMES.map((x) => k!.counts[x]).join(' | ')} | ${k!.seconds.toFixed(1)} |`);
  return [head, `|${' --- |'.repeat(OUTCOMES.length + 3)}`, ...rows].join('\n');
}
