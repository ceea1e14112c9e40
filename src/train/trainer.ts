// The training loop. An inference graph (ending in Softmax, Sigmoid, or logits) becomes one
// training step graph: the forward pass with BatchNormalization in training mode, the loss, the backward
// pass from graph/autograd.ts and the optimiser's update nodes. A session runs that graph with the
// parameters, optimiser moments and running statistics as session state, so a step uploads one
// batch and reads back only the loss and the logits.
//
// Checkpoints are written atomically (a temporary file, then rename) after every epoch; a run
// given the same checkpoint path resumes after the last completed epoch. A non-finite loss stops
// the run with an error and leaves the last good checkpoint in place.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Gpu } from '../device/gpu.js';
import { buildBackward } from '../graph/autograd.js';
import type { Graph, Node } from '../graph/ir.js';
import { unfuseEpilogues } from '../graph/fusion.js';
import { inferShapes } from '../graph/shapes.js';
import { CpuSession, GpuSession, type Session, type SessionOptions } from '../graph/session.js';
import { SizedSessions } from '../graph/sized.js';
import { batches, datasetSize, type Dataset } from '../data/dataset.js';
import { seededRandom } from '../random.js';
import { sizeOf, Tensor } from '../tensor.js';
import { appendOptimizer, type OptimizerConfig } from './optimizers.js';
import { makeSchedule, type ScheduleConfig } from './schedules.js';

export interface TrainConfig {
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerConfig;
  /** Learning-rate schedule over all steps (default constant). */
  readonly schedule?: ScheduleConfig;
  readonly seed?: number;
  /** Random translation of training images by up to this many pixels. */
  readonly maxShift?: number;
  /** The loss (default cross-entropy on the labels). */
  readonly loss?: LossConfig;
  /** Checkpoint file: written after every epoch, resumed from when it exists. */
  readonly checkpoint?: string;
  readonly onProgress?: (p: TrainProgress) => void;
}

/**
 * Cross-entropy against the labels, or distillation from a teacher: T²·KL(softmax(t/T) ‖
 * softmax(s/T)) between the teacher's logits t on the same (augmented) batch and the student's s.
 * Distillation ignores the labels, so it fine-tunes on unlabelled images.
 */
export type LossConfig = { readonly kind: 'cross-entropy' } | { readonly kind: 'distillation'; readonly teacher: Graph; readonly temperature?: number };

export interface TrainProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  /** Mean training loss and accuracy over the epoch so far (accuracy: NaN unless a classifier). */
  readonly loss: number;
  readonly accuracy: number;
  readonly imagesPerSecond: number;
  /** True for the summary at the end of an epoch. */
  readonly epochDone?: boolean;
  /** In the end-of-epoch summary, when a test set was given and the model is a classifier. */
  readonly testAccuracy?: number;
}

export interface TrainResult {
  /** The input graph with its trained initializers (parameters and running statistics). */
  readonly graph: Graph;
  readonly history: readonly TrainProgress[];
}

/** The training step graph of an inference graph, and what the loop needs to drive it. */
export interface TrainingGraph {
  readonly graph: Graph;
  readonly state: [string, string][];
  readonly feeds: (step: number, lr: number) => Record<string, Tensor>;
  /** Initializers that the loop carries: parameters and BN running statistics. */
  readonly carried: readonly string[];
  readonly loss: string;
  readonly logits: string;
  /** Whether the logits are a classifier's [N, classes], which accuracy is measured on. */
  readonly classifier: boolean;
  readonly input: string;
  readonly labels: string;
  /** The teacher-logits input, for distillation. */
  readonly teacher?: string;
}

const LABELS = 'labels';
const TEACHER = 'teacher_logits';
const LOSS = 'loss';

/**
 * What an inference graph's output is, for its loss: the input of a final Softmax (scores along
 * the last axis: [N, C] for a classifier, [N, T, C] for a recogniser's columns), the input of a
 * final Sigmoid (independent probabilities: a text detector's map), else the output itself, taken
 * as a classifier's logits. `shape` leaves out the batch.
 */
interface Head {
  readonly logits: string;
  readonly kind: 'softmax' | 'sigmoid';
  readonly shape: readonly number[];
  /** The final Softmax or Sigmoid, which the training graph drops. */
  readonly last?: Node;
}

function headOf(graph: Graph): Head {
  const out = graph.outputs[0];
  const last = graph.nodes.find((n) => n.outputs.includes(out));
  const shapes = inferShapes(graph).shapes;
  if (last?.op === 'Sigmoid') return { logits: last.inputs[0], kind: 'sigmoid', shape: shapes.get(last.inputs[0])!.slice(1), last };
  if (last?.op !== 'Softmax') return { logits: out, kind: 'softmax', shape: shapes.get(out)!.slice(1) };
  const shape = shapes.get(last.inputs[0])!;
  const axis = (last.attrs.axis as number | undefined) ?? (last.attrs.legacy_coerce_2d ? 1 : -1);
  if (shape.length > 2 && (last.attrs.legacy_coerce_2d || (axis !== -1 && axis !== shape.length - 1))) {
    throw new Error(`the final Softmax '${last.name}' runs along axis ${axis} of [${shape}]; training needs the scores along the last axis`);
  }
  return { logits: last.inputs[0], kind: 'softmax', shape: shape.slice(1), last };
}

/** True for a classifier's head, [N, classes] scores: the one kind that labels and accuracy apply to. */
const isClassifier = (h: Head) => h.kind === 'softmax' && h.shape.length === 1;

/**
 * The loss nodes on `head`'s logits for batches of `batch`. Distillation compares rows of scores
 * with DistillationLoss: a classifier's [N, C] as they are, longer heads as [N·T, C] rows, and a
 * sigmoid head as two-class rows [s, 0] (softmax([s, 0]) = [σ(s), 1 - σ(s)]), so a detector's map
 * is distilled pixel by pixel with the same op, kernels and temperature.
 */
function lossNodes(head: Head, loss: LossConfig, batch: number): { nodes: Node[]; constants: [string, Tensor][] } {
  if (loss.kind === 'cross-entropy') {
    if (!isClassifier(head)) throw new Error(`labels train a classifier (scores [N, classes]); this model's output is [N, ${head.shape.join(', ')}]: use distillation`);
    return { nodes: [{ name: 'loss', op: 'SoftmaxCrossEntropyLoss', inputs: [head.logits, LABELS], outputs: [LOSS], attrs: {} }], constants: [] };
  }
  const nodes: Node[] = [];
  const constants: [string, Tensor][] = [];
  const rows = (value: string): string => {
    if (isClassifier(head)) return value;
    const flat = `${value}.rows`;
    if (head.kind === 'softmax') {
      const c = head.shape[head.shape.length - 1];
      nodes.push({ name: `${flat}.reshape`, op: 'Reshape', inputs: [value], outputs: [flat], attrs: { shape: [(batch * sizeOf(head.shape)) / c, c] } });
      return flat;
    }
    const m = batch * sizeOf(head.shape);
    if (!constants.length) constants.push(['loss.zeros', new Tensor([m, 1])]);
    nodes.push({ name: `${flat}.reshape`, op: 'Reshape', inputs: [value], outputs: [`${flat}.column`], attrs: { shape: [m, 1] } });
    nodes.push({ name: `${flat}.pair`, op: 'Concat', inputs: [`${flat}.column`, 'loss.zeros'], outputs: [flat], attrs: { axis: 1 } });
    return flat;
  };
  const student = rows(head.logits);
  const teacher = rows(TEACHER);
  nodes.push({ name: 'loss', op: 'DistillationLoss', inputs: [student, teacher], outputs: [LOSS, 'loss_rows'], attrs: { temperature: loss.temperature ?? 4 } });
  return { nodes, constants };
}

/**
 * Build the training step graph for batches of `batch` images. Every initializer is trained
 * except BatchNormalization's running mean and variance, which become state updated by the op.
 * Fused activations and epilogue chains (inference passes) are split off again first.
 */
export function trainingGraph(graph: Graph, batch: number, optimizer: OptimizerConfig, loss: LossConfig = { kind: 'cross-entropy' }): TrainingGraph {
  if (graph.inputs.length !== 1) throw new Error(`training needs a graph with one input, this one has ${graph.inputs.length}`);
  graph = unfuseEpilogues(graph); // fusion is for inference: a fused activation or chain has no backward
  const input = graph.inputs[0];
  const head = headOf(graph);
  const statState: [string, string][] = [];
  const running = new Set<string>();
  const nodes: Node[] = [];
  for (const n of graph.nodes) {
    if (n === head.last) continue;
    if (n.op === 'BatchNormalization') {
      const [mean, variance] = [n.inputs[3], n.inputs[4]];
      const next = [`${n.name}.running_mean`, `${n.name}.running_var`];
      statState.push([mean, next[0]], [variance, next[1]]);
      running.add(mean).add(variance);
      nodes.push({ ...n, outputs: [n.outputs[0], ...next], attrs: { ...n.attrs, training_mode: 1 } });
    } else nodes.push(n);
  }
  const distill = loss.kind === 'distillation';
  const lossPart = lossNodes(head, loss, batch);
  nodes.push(...lossPart.nodes);
  const forward: Graph = {
    inputs: [{ name: input.name, shape: [batch, ...input.shape.slice(1)] }, distill ? { name: TEACHER, shape: [batch, ...head.shape] } : { name: LABELS, shape: [batch] }],
    outputs: [LOSS, head.logits],
    nodes,
    initializers: new Map([...graph.initializers, ...lossPart.constants]),
  };
  // Every initializer is a parameter except running statistics and exponents: exporters write
  // constants such as LayerNorm's square (Pow(x, 2)) as initializers, and Pow has no gradient
  // with respect to its exponent.
  const exponents = new Set(graph.nodes.filter((n) => n.op === 'Pow').map((n) => n.inputs[1]));
  const otherwiseRead = new Set(graph.nodes.flatMap((n) => (n.op === 'Pow' ? [n.inputs[0]] : n.inputs)));
  const params = [...graph.initializers.keys()].filter((k) => !running.has(k) && !(exponents.has(k) && !otherwiseRead.has(k)));
  const back = buildBackward(forward, LOSS, params);
  const step = appendOptimizer(back.graph, optimizer, params, back.grads);
  return {
    graph: step.graph,
    state: [...step.state, ...statState],
    feeds: (i, lr) => step.feeds(i, lr),
    carried: [...graph.initializers.keys()],
    loss: LOSS,
    logits: head.logits,
    classifier: isClassifier(head),
    input: input.name,
    labels: LABELS,
    teacher: distill ? TEACHER : undefined,
  };
}

function session(gpu: Gpu | null, graph: Graph, opts: SessionOptions = {}): Session {
  return gpu ? new GpuSession(gpu, graph, opts) : new CpuSession(graph, opts);
}

/** Index of the largest of `k` values at row `row` of a [N, k] array. */
function argmax(data: Float32Array, row: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (data[row * k + j] > data[row * k + best]) best = j;
  return best;
}

/**
 * A task's measure of a graph: a fraction in [0, 1], higher is better (top-1 accuracy, a
 * recogniser's character accuracy, a detector's F-score), on data fixed by whoever made it.
 */
export type GraphMetric = (graph: Graph, gpu: Gpu | null) => Promise<number>;

/**
 * Run `graph` on `ds` in batches of `batchSize` (in order; the last may be smaller and shares the
 * first's kernels) and hand each batch's first output to `each` with the index of its first image.
 */
export async function forEachBatch(graph: Graph, ds: Dataset, gpu: Gpu | null, batchSize: number, each: (out: Tensor, first: number) => void): Promise<void> {
  const input = graph.inputs[0];
  const dims = ['batch', ...input.shape.slice(1)];
  const sized = new SizedSessions({ declared: [{ name: input.name, dims }], graphFor: (s) => ({ ...graph, inputs: [{ name: input.name, shape: s[input.name] }] }) }, gpu);
  try {
    let first = 0;
    for (const b of batches(ds, { batchSize })) {
      const size = b.y.length;
      const { session: s } = sized.get({ [input.name]: [size, ...input.shape.slice(1)] });
      each((await s.run({ [input.name]: b.x }))[graph.outputs[0]], first);
      first += size;
    }
  } finally {
    sized.dispose();
  }
}

/** Top-1 accuracy of an inference graph (output [N, classes]) on a labelled data set. */
export async function evaluate(graph: Graph, ds: Dataset, gpu: Gpu | null, batchSize = 100): Promise<number> {
  let correct = 0;
  await forEachBatch(graph, ds, gpu, batchSize, (out, first) => {
    const k = out.shape[1];
    for (let i = 0; i < out.shape[0]; i++) if (argmax(out.data, i, k) === ds.labels[first + i]) correct++;
  });
  return correct / datasetSize(ds);
}

// ---- checkpoints: [u32 header length][JSON header][float32 data of each tensor in order] ----

interface CheckpointHeader {
  readonly format: 'deftnn-checkpoint';
  readonly version: 1;
  readonly epoch: number;
  readonly history: TrainProgress[];
  readonly tensors: { name: string; shape: number[] }[];
}

export function saveCheckpoint(path: string, epoch: number, history: TrainProgress[], tensors: Record<string, Tensor>): void {
  const header: CheckpointHeader = {
    format: 'deftnn-checkpoint',
    version: 1,
    epoch,
    history,
    tensors: Object.entries(tensors).map(([name, t]) => ({ name, shape: [...t.shape] })),
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const parts: Buffer[] = [len, json]; // float data in the machine's (little-endian) order
  for (const t of Object.values(tensors)) parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, Buffer.concat(parts));
  renameSync(tmp, path); // atomic on POSIX: a reader sees the old or the new checkpoint, never half of one
}

export function loadCheckpoint(path: string): { epoch: number; history: TrainProgress[]; tensors: Map<string, Tensor> } {
  const buf = readFileSync(path);
  const fail = (why: string) => new Error(`checkpoint ${path} is unreadable (${why}); delete it to start over`);
  if (buf.length < 4) throw fail('too short');
  const len = buf.readUInt32LE(0);
  if (4 + len > buf.length) throw fail('truncated header');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as CheckpointHeader;
  } catch {
    throw fail('corrupt header');
  }
  if (header.format !== 'deftnn-checkpoint' || header.version !== 1) throw fail('not a deftnn checkpoint of version 1');
  const tensors = new Map<string, Tensor>();
  let off = 4 + len;
  for (const { name, shape } of header.tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (off + 4 * n > buf.length) throw fail(`truncated at tensor '${name}'`);
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(buf.subarray(off, off + 4 * n));
    tensors.set(name, new Tensor(shape, data));
    off += 4 * n;
  }
  return { epoch: header.epoch, history: header.history, tensors };
}

/**
 * Train `graph` on `data.train` (and report accuracy on `data.test` after each epoch). The input
 * graph is not modified; the result holds the trained initializers.
 */
export async function train(graph: Graph, data: { train: Dataset; test?: Dataset }, cfg: TrainConfig, gpu: Gpu | null): Promise<TrainResult> {
  if (!(cfg.epochs >= 1 && Number.isInteger(cfg.epochs))) throw new RangeError(`epochs must be an integer >= 1, got ${cfg.epochs}`);
  const n = datasetSize(data.train);
  if (!(cfg.batchSize >= 1 && cfg.batchSize <= n)) throw new RangeError(`batchSize must be in [1, ${n}], got ${cfg.batchSize}`);
  const stepsPerEpoch = Math.floor(n / cfg.batchSize);
  const schedule = makeSchedule(cfg.schedule ?? { kind: 'constant' }, cfg.optimizer.lr);
  const seed = cfg.seed ?? 1;

  let current = graph;
  let history: TrainProgress[] = [];
  let startEpoch = 0;
  const tg = trainingGraph(graph, cfg.batchSize, cfg.optimizer, cfg.loss);
  const teacher = cfg.loss?.kind === 'distillation' ? teacherSession(cfg.loss.teacher, graph, cfg.batchSize, gpu) : undefined;
  let stepGraph = tg.graph;
  if (cfg.checkpoint && existsSync(cfg.checkpoint)) {
    // Parameters, running statistics and optimiser moments all come back.
    const ck = loadCheckpoint(cfg.checkpoint);
    current = withInitializers(graph, ck.tensors);
    stepGraph = withInitializers(tg.graph, ck.tensors);
    history = ck.history;
    startEpoch = ck.epoch;
  }
  const s = session(gpu, stepGraph, { state: tg.state });
  try {
    for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
      const rand = seededRandom(seed * 1000 + epoch); // per epoch, so a resumed run reshuffles the same way
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      const t0 = performance.now();
      let step = 0;
      const soFar = (): TrainProgress => ({
        epoch: epoch + 1,
        epochs: cfg.epochs,
        step,
        stepsPerEpoch,
        loss: lossSum / seen,
        accuracy: tg.classifier ? correct / seen : NaN,
        imagesPerSecond: (seen * 1000) / (performance.now() - t0),
      });
      for (const b of batches(data.train, { batchSize: cfg.batchSize, shuffle: rand, dropLast: true, maxShift: cfg.maxShift, augment: rand })) {
        const global = epoch * stepsPerEpoch + step;
        const target = teacher ? { [tg.teacher!]: await teacher.run(b.x) } : { [tg.labels]: new Tensor([b.y.length], Float32Array.from(b.y)) };
        const out = await s.run({ [tg.input]: b.x, ...target, ...tg.feeds(global, schedule(global)) });
        const loss = out[tg.loss].data[0];
        if (!Number.isFinite(loss)) {
          throw new Error(
            `training diverged: loss is ${loss} at epoch ${epoch + 1}, step ${step + 1}` +
              (cfg.checkpoint ? `; the last good checkpoint (${cfg.checkpoint}) is kept` : '') +
              '; try a lower learning rate',
          );
        }
        if (tg.classifier) {
          const logits = out[tg.logits];
          const k = logits.shape[1];
          for (let i = 0; i < b.y.length; i++) if (argmax(logits.data, i, k) === b.y[i]) correct++;
        }
        lossSum += loss * b.y.length;
        seen += b.y.length;
        step++;
        cfg.onProgress?.(soFar());
      }
      current = withInitializers(graph, new Map(Object.entries(await s.read(tg.carried))));
      const stats: TrainProgress = {
        ...soFar(),
        epochDone: true,
        testAccuracy: data.test && tg.classifier ? await evaluate(current, data.test, gpu) : undefined,
      };
      history.push(stats);
      cfg.onProgress?.(stats);
      if (cfg.checkpoint) {
        const moments = tg.state.map(([v]) => v).filter((v) => !tg.carried.includes(v));
        const all = { ...Object.fromEntries(current.initializers), ...(await s.read(moments)) };
        saveCheckpoint(cfg.checkpoint, epoch + 1, history, all);
      }
    }
  } finally {
    s.dispose();
    teacher?.dispose();
  }
  return { graph: current, history };
}

/** Runs the teacher on a batch and returns its logits (checked against the student's). */
function teacherSession(teacher: Graph, student: Graph, batch: number, gpu: Gpu | null): { run: (x: Tensor) => Promise<Tensor>; dispose: () => void } {
  if (teacher.inputs.length !== 1) throw new Error(`the teacher must have one input, it has ${teacher.inputs.length}`);
  const want = student.inputs[0].shape.slice(1).join('x');
  if (teacher.inputs[0].shape.slice(1).join('x') !== want) throw new Error(`the teacher's input [N, ${teacher.inputs[0].shape.slice(1)}] differs from the student's [N, ${want.replaceAll('x', ',')}]`);
  // Fused like an inference graph (an imported detector's Sigmoid rides on its last conv), the
  // teacher's head would read as probabilities: unfused, its logits are the student's kind.
  teacher = unfuseEpilogues(teacher);
  const { logits, shape } = headOf(teacher);
  const studentShape = headOf(student).shape;
  if (shape.join('x') !== studentShape.join('x')) throw new Error(`the teacher's logits [N, ${shape.join(', ')}] differ from the student's [N, ${studentShape.join(', ')}]`);
  const name = teacher.inputs[0].name;
  const s = session(gpu, { ...teacher, inputs: [{ name, shape: [batch, ...teacher.inputs[0].shape.slice(1)] }], outputs: [logits] });
  return { run: async (x) => (await s.run({ [name]: x }))[logits], dispose: () => s.dispose() };
}

/** `graph` with the initializers found in `values` replaced (others kept). */
function withInitializers(graph: Graph, values: ReadonlyMap<string, Tensor>): Graph {
  const initializers = new Map(graph.initializers);
  for (const k of initializers.keys()) {
    const v = values.get(k);
    if (v) initializers.set(k, v);
  }
  return { ...graph, initializers };
}
