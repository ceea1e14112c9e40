// Training throughput: images/s of one training step at batch 32 for each zoo model, deftnn beside
// the same model trained with @tensorflow/tfjs-core on tfjs-backend-webgpu, on the same adapter
// (one Dawn instance, bench/peers.ts), in one run.
// Usage: npm run bench:train [-- --models lenet5,vgg,resnet --steps 3 --reps 5 --warmup 1 --shader-cache]
//
// Same model on both sides: the tfjs model is built from the zoo graph itself (below, tfjsModel),
// with the same initial weights, converted from our NCHW layout to tfjs's native NHWC (conv
// weights [M, C, KH, KW] -> [KH, KW, C, M]; the first fully connected layer after a Flatten gets
// its rows reordered from C·H·W to H·W·C order). Before timing, the benchmark checks that both
// have the same number of trainable parameters and the same loss on the same first batch (to
// 1e-3), and prints the loss after one update as well (which checks gradients and optimiser).
//
// Same step on both sides: forward with BatchNormalization in training mode (batch statistics,
// running statistics updated), softmax cross-entropy (mean over the batch), backward, optimiser
// update of every parameter, and the loss read back to the CPU (deftnn's run() also reads the
// logits, 32x10 floats). deftnn: the step graph of train/trainer.ts's trainingGraph in a
// GpuSession, parameters and moments as session state. tfjs: variableGrads and the optimiser's
// applyGradients in a tidy, then the loss read back with data() (tfjs-webgpu has no dataSync in
// Node). Each side uploads its batch every step.
// Optimisers as train:zoo's: SGD with momentum 0.9 for LeNet-5, Adam for the others (tfjs's
// tf.train.momentum and tf.train.adam compute the same updates as our SgdUpdate and AdamWUpdate),
// but with no weight decay on either side: tfjs's optimisers have none, and adding it by hand
// would add ops to the tfjs side only. tfjs runs Conv+bias+ReLU and Gemm+bias+ReLU as its fused
// ops where the graph has them back to back, as tf.layers does.
//
// Timing: the first step of each side is timed alone (deftnn: session build, pipeline compiles and
// the step; tfjs: the step, its shader compiles included). Then `warmup` untimed and `reps` timed
// rounds interleaved (deftnn, tfjs, deftnn, ...), each round `steps` steps end to end; medians.
// Mesa (lavapipe) keeps compiled shaders in an on-disk cache, which would make first-step times
// depend on what ran on this machine before; it is switched off unless --shader-cache is given,
// so they are cold compiles. tfjs's shaders are shape-generic and shared between models, so its
// first step of a model also depends on the models benchmarked before it in the same run.
// Lavapipe numbers are CPU numbers: read them as ratios.

import { execSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { NamedTensorMap, Optimizer, Tensor as TfTensor, Tensor1D, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { Gpu } from '../src/device/gpu.js';
import type { Graph } from '../src/graph/ir.js';
import { GpuSession } from '../src/graph/session.js';
import { inferShapes } from '../src/graph/shapes.js';
import { seededRandom } from '../src/random.js';
import { sizeOf, Tensor } from '../src/tensor.js';
import type { OptimizerConfig } from '../src/train/optimizers.js';
import { trainingGraph } from '../src/train/trainer.js';
import { lenet5 } from '../src/zoo/lenet.js';
import { resnetSmall } from '../src/zoo/resnet.js';
import { vggSmall } from '../src/zoo/vgg.js';
import { markdownTable, timeInterleaved } from './harness.js';
import { installDawn, registerTfjsGradients, tfjsWebgpu, type Tfjs } from './peers.js';

const { values: opts } = parseArgs({
  options: {
    models: { type: 'string', default: 'lenet5,vgg,resnet' },
    steps: { type: 'string', default: '3' },
    reps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'shader-cache': { type: 'boolean', default: false },
  },
});
const STEPS = Number(opts.steps);
const REPS = Number(opts.reps);
const WARMUP = Number(opts.warmup);
const BATCH = 32;
const CLASSES = 10;
/** Distinct random batches, cycled through. */
const NUM_BATCHES = 4;
const LOSS_TOLERANCE = 1e-3;

interface BenchModel {
  readonly name: string;
  readonly build: () => Graph;
  readonly optimizer: OptimizerConfig;
}

// Seeds, learning rates and optimisers of scripts/train-zoo.ts, weight decay off (see above).
const MODELS: BenchModel[] = [
  { name: 'lenet5', build: () => lenet5({ seed: 1 }), optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0 } },
  { name: 'vgg', build: () => vggSmall({ seed: 2 }), optimizer: { kind: 'adamw', lr: 2e-3, weightDecay: 0 } },
  { name: 'resnet', build: () => resnetSmall({ seed: 3 }), optimizer: { kind: 'adamw', lr: 2e-3, weightDecay: 0 } },
];
const wanted = opts.models!.split(',');
for (const w of wanted) if (!MODELS.some((m) => m.name === w)) throw new Error(`unknown model '${w}'; choose from ${MODELS.map((m) => m.name).join(', ')}`);

// Mesa reads this when the Vulkan device is created, so it must be set before Dawn starts.
if (!opts['shader-cache']) process.env.MESA_SHADER_CACHE_DISABLE = 'true';
// One Dawn instance for deftnn and tfjs (Gpu.acquire takes navigator.gpu), so one adapter.
installDawn();
const acquired = await Gpu.acquire();
if (!acquired) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
const gpu: Gpu = acquired;
const tf: Tfjs = await tfjsWebgpu();
await registerTfjsGradients();

// ---- data: seeded random batches, NCHW for deftnn and the same images NHWC for tfjs ----

interface Batch {
  readonly nchw: Float32Array;
  readonly nhwc: Float32Array;
  readonly labels: Float32Array;
  readonly labelsInt: Int32Array;
}

function randomBatches(c: number, h: number, w: number, seed: number): Batch[] {
  const r = seededRandom(seed);
  return Array.from({ length: NUM_BATCHES }, () => {
    const nchw = Float32Array.from({ length: BATCH * c * h * w }, () => r());
    const nhwc = new Float32Array(nchw.length);
    for (let n = 0; n < BATCH; n++) {
      for (let ch = 0; ch < c; ch++) {
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) nhwc[((n * h + y) * w + x) * c + ch] = nchw[((n * c + ch) * h + y) * w + x];
      }
    }
    const labelsInt = Int32Array.from({ length: BATCH }, () => Math.floor(r() * CLASSES));
    return { nchw, nhwc, labels: Float32Array.from(labelsInt), labelsInt };
  });
}

// ---- the tfjs model, built from the zoo graph ----

interface TfjsModel {
  /** Trainable variables: weights, biases, BatchNormalization scales and offsets. */
  readonly trainable: Variable[];
  /** BatchNormalization running statistics (not trainable). */
  readonly running: Variable[];
  /** The mean softmax cross-entropy of a batch; updates the running statistics. */
  readonly loss: (x: Tensor4D, onehot: Tensor2D) => TfTensor;
}

const allZero = (xs: readonly number[]) => xs.every((v) => v === 0);

/**
 * The inference graph `g` (NCHW, ending in Softmax) as a tfjs model in NHWC with the same weights.
 * Only the ops the zoo uses are translated; anything else is refused. Variable names start with
 * `prefix` (tfjs registers variables globally by name).
 */
function tfjsModel(g: Graph, prefix: string): TfjsModel {
  const shapes = inferShapes(g).shapes;
  const consumers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const init = (name: string) => {
    const t = g.initializers.get(name);
    if (!t) throw new Error(`'${name}' is not an initializer`);
    return t;
  };
  const vars = new Map<string, Variable>();
  const trainable: Variable[] = [];
  const running: Variable[] = [];
  const variable = (name: string, data: Float32Array, shape: number[], train = true): Variable => {
    const v = tf.variable(tf.tensor(data, shape), train, `${prefix}/${name}`);
    vars.set(name, v);
    (train ? trainable : running).push(v);
    return v;
  };
  /** A Relu that directly follows this node's only output, to fuse into it. */
  const fusedRelu = (out: string) => g.nodes.find((m) => m.op === 'Relu' && m.inputs[0] === out && consumers.get(out) === 1);

  const last = g.nodes[g.nodes.length - 1];
  if (last.op !== 'Softmax') throw new Error('the graph must end in Softmax');
  type Layer = (env: Map<string, TfTensor>) => void;
  const layers: Layer[] = [];
  const fused = new Set<string>();
  // Values produced by a Flatten of a [N, C, H, W] map: what the next Gemm's rows must follow.
  const flattened = new Map<string, { c: number; h: number; w: number }>();

  for (const n of g.nodes) {
    if (n === last || fused.has(n.name)) continue;
    const out = n.outputs[0];
    const get = (env: Map<string, TfTensor>, i: number) => env.get(n.inputs[i])!;
    switch (n.op) {
      case 'Conv': {
        const [m, c, kh, kw] = init(n.inputs[1]).shape;
        const group = Number(n.attrs.group ?? 1);
        if (group !== 1) throw new Error(`${n.name}: grouped convolution is not translated`);
        const w = init(n.inputs[1]).data;
        const hwcm = new Float32Array(w.length); // [M, C, KH, KW] -> [KH, KW, C, M]
        for (let o = 0; o < m; o++) {
          for (let i = 0; i < c; i++) {
            for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) hwcm[((y * kw + x) * c + i) * m + o] = w[((o * c + i) * kh + y) * kw + x];
          }
        }
        const filter = variable(n.inputs[1], hwcm, [kh, kw, c, m]) as unknown as Tensor4D;
        const bias = n.inputs[2] ? variable(n.inputs[2], init(n.inputs[2]).data, [m]) : undefined;
        const [t, l, b, r] = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
        const pad = allZero([t, l, b, r]) ? ('valid' as const) : ([[0, 0], [t, b], [l, r], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]]);
        const strides = ((n.attrs.strides as number[] | undefined) ?? [1, 1]) as [number, number];
        const relu = fusedRelu(out);
        if (relu) fused.add(relu.name);
        const dst = relu ? relu.outputs[0] : out;
        layers.push((env) => env.set(dst, tf.fused.conv2d({ x: get(env, 0) as Tensor4D, filter, strides, pad, bias, activation: relu ? 'relu' : 'linear' })));
        break;
      }
      case 'BatchNormalization': {
        const eps = Number(n.attrs.epsilon ?? 1e-5);
        const momentum = Number(n.attrs.momentum ?? 0.9);
        const [scale, offset] = [1, 2].map((i) => variable(n.inputs[i], init(n.inputs[i]).data, [...init(n.inputs[i]).shape]));
        const [mean, vari] = [3, 4].map((i) => variable(n.inputs[i], init(n.inputs[i]).data, [...init(n.inputs[i]).shape], false));
        layers.push((env) => {
          const x = get(env, 0);
          const stats = tf.moments(x, [0, 1, 2]); // biased variance, as ONNX training mode
          env.set(out, tf.batchNorm(x, stats.mean, stats.variance, offset, scale, eps));
          // Running statistics, ONNX's momentum convention (as our BatchNormalization op).
          mean.assign(tf.add(tf.mul(mean, momentum), tf.mul(stats.mean, 1 - momentum)));
          vari.assign(tf.add(tf.mul(vari, momentum), tf.mul(stats.variance, 1 - momentum)));
        });
        break;
      }
      case 'Relu':
        layers.push((env) => env.set(out, tf.relu(get(env, 0))));
        break;
      case 'Add':
        layers.push((env) => env.set(out, tf.add(get(env, 0), get(env, 1))));
        break;
      case 'MaxPool': {
        const k = n.attrs.kernel_shape as number[];
        const s = (n.attrs.strides as number[] | undefined) ?? [1, 1];
        if (!allZero((n.attrs.pads as number[] | undefined) ?? [0]) || n.attrs.auto_pad || n.attrs.ceil_mode) throw new Error(`${n.name}: padded MaxPool is not translated`);
        layers.push((env) => env.set(out, tf.maxPool(get(env, 0) as Tensor4D, [k[0], k[1]], [s[0], s[1]], 'valid')));
        break;
      }
      case 'GlobalAveragePool':
        layers.push((env) => env.set(out, tf.mean(get(env, 0), [1, 2], true)));
        break;
      case 'Flatten': {
        const s = shapes.get(n.inputs[0])!;
        if (Number(n.attrs.axis ?? 1) !== 1 || s.length !== 4) throw new Error(`${n.name}: only Flatten(axis 1) of a 4-D map is translated`);
        flattened.set(out, { c: s[1], h: s[2], w: s[3] });
        layers.push((env) => env.set(out, tf.reshape(get(env, 0), [-1, s[1] * s[2] * s[3]])));
        break;
      }
      case 'Gemm': {
        if (Number(n.attrs.transB ?? 0) !== 1 || Number(n.attrs.transA ?? 0) !== 0 || Number(n.attrs.alpha ?? 1) !== 1 || Number(n.attrs.beta ?? 1) !== 1) {
          throw new Error(`${n.name}: only Gemm with transB = 1 is translated`);
        }
        const [o, i] = init(n.inputs[1]).shape;
        const w = init(n.inputs[1]).data;
        // Row of our flattened C·H·W feature for tfjs's flattened H·W·C feature j.
        const f = flattened.get(n.inputs[0]);
        const src = (j: number) => (f ? (j % f.c) * f.h * f.w + Math.floor(j / f.c) : j);
        const kernel = new Float32Array(w.length); // [out, in] -> [in, out]
        for (let j = 0; j < i; j++) for (let k = 0; k < o; k++) kernel[j * o + k] = w[k * i + src(j)];
        const b = variable(n.inputs[1], kernel, [i, o]) as unknown as Tensor2D;
        const bias = n.inputs[2] ? variable(n.inputs[2], init(n.inputs[2]).data, [o]) : undefined;
        const relu = fusedRelu(out);
        if (relu) fused.add(relu.name);
        const dst = relu ? relu.outputs[0] : out;
        layers.push((env) => env.set(dst, tf.fused.matMul({ a: get(env, 0) as Tensor2D, b, bias, activation: relu ? 'relu' : 'linear' })));
        break;
      }
      default:
        throw new Error(`${n.name}: op ${n.op} is not translated to tfjs`);
    }
  }
  for (const name of g.initializers.keys()) if (!vars.has(name)) throw new Error(`initializer '${name}' was not translated`);
  const logits = last.inputs[0];
  const input = g.inputs[0].name;
  return {
    trainable,
    running,
    loss: (x, onehot) => {
      const env = new Map<string, TfTensor>([[input, x]]);
      for (const layer of layers) layer(env);
      return tf.losses.softmaxCrossEntropy(onehot, env.get(logits)!);
    },
  };
}

function tfjsOptimizer(cfg: OptimizerConfig): Optimizer {
  if (cfg.kind === 'sgd') return tf.train.momentum(cfg.lr, cfg.momentum ?? 0.9, cfg.nesterov ?? false);
  return tf.train.adam(cfg.lr, cfg.beta1 ?? 0.9, cfg.beta2 ?? 0.999, cfg.eps ?? 1e-8);
}

// ---- one model: both sides, checks, timing ----

interface Side {
  /** One training step on the next batch; resolves to its loss (read back). */
  step: () => Promise<number>;
  dispose: () => void;
}

function deftnnSide(m: BenchModel, batches: Batch[]): Side {
  const g = m.build();
  const tg = trainingGraph(g, BATCH, m.optimizer);
  const s = new GpuSession(gpu, tg.graph, { state: tg.state });
  const [, c, h, w] = g.inputs[0].shape;
  let i = 0;
  return {
    step: async () => {
      const b = batches[i % batches.length];
      const out = await s.run({
        [tg.input]: new Tensor([BATCH, c, h, w], b.nchw),
        [tg.labels]: new Tensor([BATCH], b.labels),
        ...tg.feeds(i, m.optimizer.lr),
      });
      i++;
      return out[tg.loss].data[0];
    },
    dispose: () => s.dispose(),
  };
}

function tfjsSide(model: TfjsModel, cfg: OptimizerConfig, batches: Batch[], [h, w, c]: number[]): Side {
  const optimizer = tfjsOptimizer(cfg);
  let i = 0;
  return {
    step: async () => {
      const b = batches[i++ % batches.length];
      const loss = tf.tidy(() => {
        const x = tf.tensor4d(b.nhwc, [BATCH, h, w, c]);
        const onehot = tf.oneHot(tf.tensor1d(b.labelsInt, 'int32') as Tensor1D, CLASSES) as Tensor2D;
        const { value, grads } = tf.variableGrads(() => model.loss(x, onehot) as ReturnType<typeof tf.scalar>, model.trainable);
        optimizer.applyGradients(grads as NamedTensorMap);
        return value;
      });
      const v = (await loss.data())[0]; // dataSync: tfjs-webgpu has no synchronous read-back in Node
      loss.dispose();
      return v;
    },
    dispose: () => {
      optimizer.dispose();
      for (const v of [...model.trainable, ...model.running]) v.dispose();
    },
  };
}

const sec = (ms: number) => (ms / 1000).toFixed(1);

console.log(`adapter: ${gpu.name}`);
const tfInfo = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
console.log(`tfjs ${tf.version_core} webgpu adapter: ${tfInfo?.vendor ?? '?'} / ${tfInfo?.architecture ?? '?'} (same Dawn instance)`);
console.log(`CPU: ${cpus()[0]?.model ?? '?'} x ${availableParallelism()}; node ${process.version}; Mesa shader cache ${opts['shader-cache'] ? 'on (first steps may hit it)' : 'off (cold compiles)'}`);
console.log(`date: ${execSync('date -u').toString().trim()}; batch ${BATCH}; ${WARMUP} warm-up + ${REPS} timed interleaved rounds of ${STEPS} steps per side, median\n`);

interface Row {
  name: string;
  params: number;
  ours: number;
  theirs: number;
  firstOurs: number;
  firstTheirs: number;
  loss0: [number, number];
  loss1: [number, number];
}
const rows: Row[] = [];
const t00 = performance.now();

for (const m of MODELS.filter((x) => wanted.includes(x.name))) {
  const g = m.build();
  const [, c, h, w] = g.inputs[0].shape;
  const batches = randomBatches(c, h, w, 7);

  const running = new Set(g.nodes.filter((n) => n.op === 'BatchNormalization').flatMap((n) => [n.inputs[3], n.inputs[4]]));
  const params = [...g.initializers].filter(([k]) => !running.has(k)).reduce((s, [, t]) => s + t.size, 0);
  const model = tfjsModel(g, m.name);
  const tfParams = model.trainable.reduce((s, v) => s + sizeOf(v.shape), 0);
  if (tfParams !== params) throw new Error(`${m.name}: tfjs model has ${tfParams} trainable parameters, ours ${params}`);

  // First step of each side alone (compiles), on the same batch; then the second, again alike.
  let t = performance.now();
  const ours = deftnnSide(m, batches);
  const o0 = await ours.step();
  const firstOurs = performance.now() - t;
  t = performance.now();
  const theirs = tfjsSide(model, m.optimizer, batches, [h, w, c]);
  const t0 = await theirs.step();
  const firstTheirs = performance.now() - t;
  const [o1, t1] = [await ours.step(), await theirs.step()];
  const tfTensors = tf.memory().numTensors;
  console.error(
    `${m.name}: ${params} parameters; first step ${sec(firstOurs)} s deftnn, ${sec(firstTheirs)} s tfjs; ` +
      `loss step 0 ${o0.toFixed(5)} / ${t0.toFixed(5)}, step 1 ${o1.toFixed(5)} / ${t1.toFixed(5)}`,
  );
  if (!(Math.abs(o0 - t0) <= LOSS_TOLERANCE)) throw new Error(`${m.name}: step-0 losses differ by ${Math.abs(o0 - t0)} (> ${LOSS_TOLERANCE}): the tfjs model is not ours`);

  const run = (s: Side) => async () => {
    for (let k = 0; k < STEPS; k++) await s.step();
  };
  const [a, b] = await timeInterleaved(
    [
      { name: 'deftnn', run: run(ours) },
      { name: 'tfjs', run: run(theirs) },
    ],
    { warmup: WARMUP, reps: REPS },
  );
  // Every tfjs step must free what it made, or tfjs would slow down as its memory fills.
  if (tf.memory().numTensors !== tfTensors) throw new Error(`${m.name}: tfjs steps leak tensors (${tfTensors} -> ${tf.memory().numTensors})`);
  const ips = (ms: number) => (STEPS * BATCH * 1000) / ms;
  rows.push({ name: m.name, params, ours: ips(a.medianMs), theirs: ips(b.medianMs), firstOurs, firstTheirs, loss0: [o0, t0], loss1: [o1, t1] });
  console.error(`  ${ips(a.medianMs).toFixed(1)} img/s deftnn, ${ips(b.medianMs).toFixed(1)} img/s tfjs (${sec(performance.now() - t00)} s so far)`);
  ours.dispose();
  theirs.dispose();
}

console.log(
  markdownTable(
    ['model', 'parameters', 'deftnn img/s', 'tfjs img/s', 'ratio (deftnn ÷ tfjs)', 'first step s (deftnn / tfjs)', 'loss step 0 (deftnn / tfjs)', 'loss step 1 (deftnn / tfjs)'],
    rows.map((r) => [
      r.name,
      r.params.toLocaleString('en-US'),
      r.ours,
      r.theirs,
      `${(r.ours / r.theirs).toFixed(2)}x`,
      `${sec(r.firstOurs)} / ${sec(r.firstTheirs)}`,
      `${r.loss0[0].toFixed(4)} / ${r.loss0[1].toFixed(4)}`,
      `${r.loss1[0].toFixed(4)} / ${r.loss1[1].toFixed(4)}`,
    ]),
  ),
);
console.log(`\nfirst step: deftnn's includes building the session (kernel generation, pipeline compiles); total run ${sec(performance.now() - t00)} s`);
gpu.destroy();
process.exit(0);
