// `deftnn bench MODEL...`: latency and throughput of each model on each backend at each batch
// size. Per configuration: build the session and time its first run (compilation included), then
// `--warmup` untimed runs and `--reps` timed ones (wall clock around run(), which waits for the
// outputs' read-back); the median is reported, with images per second = batch / median. On
// WebGPU with timestamp queries, one profiled run gives per-layer GPU times (graph/session.ts
// profile()). Inputs are seeded uniform noise in [0, 1): timing does not depend on the values.
// On a software adapter (lavapipe) the numbers are CPU numbers: compare them as ratios.

import type { Command } from 'commander';
import type { Session } from '../../graph/session.js';
import { GpuSession } from '../../graph/session.js';
import { seededRandom } from '../../random.js';
import { sizeOf, Tensor } from '../../tensor.js';
import { backendList, inputShapeOption, nonNegativeInt, positiveInt, positiveIntList, progressBar, textTable, UsageError, type BackendChoice, type Io } from '../common.js';
import { cliGpu, makeSession, readModelFile } from '../model-file.js';
import type { CliCommand } from '../command.js';

interface BenchOptions {
  backend: BackendChoice[];
  batch: number[];
  reps: number;
  warmup: number;
  layers: number;
  inputShape?: Record<string, number[]>;
}

export interface BenchRow {
  model: string;
  backend: BackendChoice;
  batch: number;
  firstRunMs: number;
  medianMs: number;
  minMs: number;
  imagesPerSecond: number;
  /** Per-layer GPU time of one profiled run, slowest first (WebGPU with timestamp-query only). */
  layers?: { node: string; op: string; ms: number }[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function randomFeeds(session: Session): Record<string, Tensor> {
  const rand = seededRandom(1);
  return Object.fromEntries(session.inputs.map((v) => [v.name, new Tensor(v.shape, Float32Array.from({ length: sizeOf(v.shape) }, rand))]));
}

export const bench: CliCommand = {
  name: 'bench',
  configure(cmd: Command) {
    cmd
      .description('measure latency and throughput per backend and batch size, and per-layer GPU times')
      .argument('<models...>', 'model files: .onnx or .deft')
      .option('-b, --backend <list>', "backends to measure, comma-separated: 'webgpu', 'cpu'", backendList, ['webgpu', 'cpu'] as BackendChoice[])
      .option('--batch <list>', 'batch sizes, comma-separated', positiveIntList, [1])
      .option('--reps <n>', 'timed runs per configuration (the median is reported)', positiveInt, 10)
      .option('--warmup <n>', 'untimed runs before timing', nonNegativeInt, 2)
      .option('--layers <n>', 'slowest layers to list per WebGPU configuration (0: none)', nonNegativeInt, 5)
      .option('--input-shape <name=dims>', 'fix an input shape (the batch dimension is set by --batch), e.g. x=1,3,48,192', inputShapeOption);
  },
  async action(args, raw, io: Io) {
    const [models] = args as [string[]];
    const o = raw as unknown as BenchOptions;
    const gpu = o.backend.includes('webgpu') ? await cliGpu() : null;
    if (o.backend.includes('webgpu') && !gpu) {
      if (o.backend.length === 1) throw new UsageError(`--backend webgpu: this machine has no WebGPU adapter (install Mesa's lavapipe, see the README) — or use --backend cpu`);
      io.note('no WebGPU adapter: measuring the CPU backend only');
    }
    const backends = o.backend.filter((b) => b === 'cpu' || gpu);
    const timestamps = !!gpu?.adapter.features.timestampQuery;
    const rows: BenchRow[] = [];
    const total = models.length * backends.length * o.batch.length;
    const bar = progressBar('bench', total * (o.warmup + o.reps + 1));
    for (const path of models) {
      for (const batch of o.batch) {
        // Input shapes per batch: --input-shape's batch dimension is replaced by `batch`.
        const shapes = Object.fromEntries(Object.entries(o.inputShape ?? {}).map(([k, s]) => [k, [batch, ...s.slice(1)]]));
        const file = await readModelFile(path, { inputShapes: shapes, batch });
        for (const backend of backends) {
          const t0 = performance.now();
          const session = makeSession(file.graph, backend, gpu);
          const feeds = randomFeeds(session);
          try {
            await session.run(feeds);
            const firstRunMs = performance.now() - t0;
            bar.tick(1, { info: `${path} ${backend} batch ${batch}` });
            for (let i = 0; i < o.warmup; i++, bar.tick()) await session.run(feeds);
            const times: number[] = [];
            for (let i = 0; i < o.reps; i++, bar.tick()) {
              const t = performance.now();
              await session.run(feeds);
              times.push(performance.now() - t);
            }
            const med = median(times);
            const row: BenchRow = { model: path, backend, batch, firstRunMs, medianMs: med, minMs: Math.min(...times), imagesPerSecond: (1000 * batch) / med };
            if (session instanceof GpuSession && timestamps && o.layers > 0) {
              const { nodes } = await session.profile(feeds);
              row.layers = [...nodes].sort((a, b) => b.ms - a.ms);
            }
            rows.push(row);
          } finally {
            session.dispose();
          }
        }
      }
    }
    bar.stop();
    const device = gpu ? `WebGPU: ${gpu.name}` : 'no WebGPU adapter';
    io.out(`${device}; CPU: deftnn's reference backend (plain loops, for checking, not speed)`);
    io.out(`median of ${o.reps} runs after ${o.warmup} warm-up runs; wall clock from upload to read-back`);
    io.out();
    const table = rows.map((r) => [r.model, r.backend, r.batch, r.firstRunMs.toFixed(1), r.medianMs.toFixed(2), r.minMs.toFixed(2), r.imagesPerSecond.toFixed(1)]);
    for (const line of textTable(['model', 'backend', 'batch', 'first run ms', 'median ms', 'min ms', 'images/s'], table)) io.out(line);
    for (const r of rows.filter((r) => r.layers?.length)) {
      const sum = r.layers!.reduce((s, l) => s + l.ms, 0);
      io.out();
      io.out(`${r.model}, webgpu, batch ${r.batch}: slowest ${Math.min(o.layers, r.layers!.length)} of ${r.layers!.length} layers (GPU timestamps, one run, ${sum.toFixed(2)} ms in all)`);
      const lrows = r.layers!.slice(0, o.layers).map((l) => [l.node, l.op, l.ms.toFixed(3), `${((100 * l.ms) / sum).toFixed(1)}%`]);
      for (const line of textTable(['node', 'op', 'ms', 'share'], lrows)) io.out('  ' + line);
    }
    if (backends.includes('webgpu') && !timestamps) io.out(`\nper-layer times need the timestamp-query feature, which this adapter does not offer`);
    return { device: gpu ? { name: gpu.name, ...gpu.adapter } : null, timestampQuery: timestamps, reps: o.reps, warmup: o.warmup, results: rows };
  },
};
