// `deftnn info MODEL`: what the model is and what it costs, per layer: op, output shape, FLOPs
// (graph/cost.ts) and bytes moved at the values' storage formats (ndf/pack.ts bytesMoved; float32
// without data fission), parameters, storage formats and, for layers compacted by synapse vector
// elimination, the reduction rows kept and eliminated. The graph shown is the one that runs
// (ONNX: after load()'s passes; --raw: as imported).

import type { Command } from 'commander';
import { getFormat, storageBytes } from '../../formats/format.js';
import { graphCost } from '../../graph/cost.js';
import type { Graph, Node } from '../../graph/ir.js';
import { inferShapes, type ResolvedNode } from '../../graph/shapes.js';
import type { ConvAttrs } from '../../ops/conv.js';
import type { GemmAttrs } from '../../ops/gemm.js';
import { bytesMoved } from '../../ndf/pack.js';
import { describeEpilogue, epilogueOf } from '../../ops/epilogue.js';
import { humanCount, inputShapeOption, positiveInt, textTable, type Io } from '../common.js';
import { readModelFile } from '../model-file.js';
import type { CliCommand } from '../command.js';

export interface Elimination {
  /** Reduction rows of the dense layer (per group for a grouped conv) and rows kept. */
  readonly K: number;
  readonly kept: number;
  readonly eliminated: number;
}

/** K, K' of a compacted Conv/Gemm (undefined for other nodes). */
export function eliminationOf(r: ResolvedNode): Elimination | undefined {
  if (r.node.attrs.kept_rows === undefined) return undefined;
  if (r.node.op === 'Conv') {
    const a = r.attrs as ConvAttrs;
    const K = (r.inputShapes[0][1] / a.group) * a.kernel[0] * a.kernel[1];
    const kept = r.inputShapes[1][1];
    return { K, kept, eliminated: K - kept };
  }
  if (r.node.op === 'Gemm') {
    const a = r.attrs as GemmAttrs;
    const K = a.transA ? r.inputShapes[0][0] : r.inputShapes[0][1];
    return { K, kept: a.kept!.length, eliminated: K - a.kept!.length };
  }
  return undefined;
}

/** Formats of a node's inputs and outputs that have one, e.g. "W e6m9, out e5m10". */
function formatsOf(n: Node, formats: ReadonlyMap<string, string>, inits: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  n.inputs.forEach((v, i) => {
    const f = formats.get(v);
    if (f) out[inits.has(v) ? (i === 1 ? 'W' : i === 2 ? 'B' : v) : 'in'] = f;
  });
  n.outputs.forEach((v) => {
    const f = formats.get(v);
    if (f) out.out = f;
  });
  return out;
}

function formatsMap(graph: Graph, metadata: { formats?: Record<string, string> }): ReadonlyMap<string, string> {
  return graph.formats ?? new Map(Object.entries(metadata.formats ?? {}));
}

export const info: CliCommand = {
  name: 'info',
  configure(cmd: Command) {
    cmd
      .description('print layers, shapes, FLOPs, bytes, parameters, formats and eliminated rows')
      .argument('<model>', 'model file: .onnx or .deft')
      .option('--input-shape <name=dims>', 'fix an input shape, e.g. x=1,3,48,192 (repeatable; a symbolic batch defaults to 1)', inputShapeOption)
      .option('--batch <n>', 'batch size (default: the model\'s, or 1 when symbolic)', positiveInt)
      .option('--raw', 'show the ONNX graph as imported, before the passes (BatchNormalization and affine folding, elementwise fusion)');
  },
  async action(args, o, io: Io) {
    const [path] = args as [string];
    const file = await readModelFile(path, {
      inputShapes: o.inputShape as Record<string, number[]> | undefined,
      batch: o.batch as number | undefined,
      optimize: !o.raw,
      // A symbolic batch alone is filled with 1; other symbolic sizes need --input-shape.
      fill: (_n, dims) => (typeof dims[0] === 'string' ? [1, ...dims.slice(1)] : undefined),
    });
    const { graph, metadata } = file;
    const ig = inferShapes(graph);
    const cost = graphCost(ig);
    // Bytes at the stored formats (data fission); the same as graphCost's float32 bytes without formats.
    const moved = bytesMoved(graph);
    const movedBy = new Map(moved.nodes.map((n) => [n.node, n.bytes]));
    const formats = formatsMap(graph, metadata);
    const inits = new Set(graph.initializers.keys());
    const layers = ig.nodes.map((r, i) => {
      const params = r.node.inputs.filter((v) => inits.has(v)).reduce((s, v) => s + graph.initializers.get(v)!.size, 0);
      return {
        node: r.node.name,
        op: (r.node.attrs.input_scale !== undefined ? 'Mul(gate)>' : '') + r.node.op + (epilogueOf(r.node.attrs).length ? `+${describeEpilogue(epilogueOf(r.node.attrs))}` : ''),
        fused: epilogueOf(r.node.attrs).length + (r.node.attrs.input_scale !== undefined ? 1 : 0),
        outputShape: r.outputShapes[0],
        flops: cost.nodes[i].flops,
        bytes: movedBy.get(r.node.name) ?? 0,
        bytesFp32: cost.nodes[i].bytes,
        params,
        formats: formatsOf(r.node, formats, inits),
        elimination: eliminationOf(r),
      };
    });
    const params = [...graph.initializers.values()].reduce((s, t) => s + t.size, 0);
    // What the passes did (ONNX, unless --raw): nodes and bytes before them, ops now run inside
    // another op's kernel (fused chains), and the rest of the nodes that went (folded into
    // weights, pass-throughs, rewritten spellings, dead code).
    let passes: { nodesBefore: number; bytesBefore: number; fusedOps: number; fusedInto: number; foldedOrRemoved: number } | undefined;
    if (file.imported && !o.raw) {
      const before = bytesMoved(file.imported);
      const fusedOps = layers.reduce((s, l) => s + l.fused, 0);
      passes = {
        nodesBefore: file.imported.nodes.length,
        bytesBefore: before.total,
        fusedOps,
        fusedInto: layers.filter((l) => l.fused).length,
        foldedOrRemoved: file.imported.nodes.length - graph.nodes.length - fusedOps,
      };
    }
    const compacted = layers.filter((l) => l.elimination);
    const summary = {
      model: path,
      kind: file.kind,
      metadata,
      inputs: graph.inputs.map((v) => ({ name: v.name, shape: v.shape, declared: file.declared.find((d) => d.name === v.name)?.dims })),
      outputs: graph.outputs.map((o) => ({ name: o, shape: ig.shapes.get(o)! })),
      nodes: graph.nodes.length,
      flops: cost.flops,
      bytes: moved.total,
      bytesFp32: cost.bytes,
      parameters: params,
      parameterBytes: [...graph.initializers].reduce((s, [name, t]) => s + storageBytes(formats.has(name) ? getFormat(formats.get(name)!) : undefined, t.size), 0),
      compactedLayers: compacted.length,
      rowsEliminated: compacted.reduce((s, l) => s + l.elimination!.eliminated, 0),
      formats: Object.fromEntries(formats),
      passes,
      layers,
    };
    const meta = file.kind === 'deft' ? `.deft${metadata.producer ? `, written by ${metadata.producer}` : ''}${metadata.source ? ` from ${metadata.source}` : ''}` : `ONNX${metadata.opset ? ` opset ${metadata.opset}` : ''}${metadata.producer ? `, from ${metadata.producer}` : ''}`;
    io.out(`${path}: ${meta}`);
    for (const v of summary.inputs) io.out(`  input  ${v.name} [${v.shape.join(', ')}]${v.declared?.some((d) => typeof d === 'string') ? ` (declared [${v.declared.join(', ')}])` : ''}`);
    for (const v of summary.outputs) io.out(`  output ${v.name} [${v.shape.join(', ')}]`);
    io.out();
    const rows = layers.map((l) => [
      l.node,
      l.op,
      `[${l.outputShape.join(', ')}]`,
      l.flops ? humanCount(l.flops) : '0',
      humanCount(l.bytes, 'B'),
      l.params ? humanCount(l.params) : '',
      Object.entries(l.formats).map(([k, f]) => `${k} ${f}`).join(', '),
      l.elimination ? `${l.elimination.eliminated}/${l.elimination.K} (${((100 * l.elimination.eliminated) / l.elimination.K).toFixed(0)}%)` : '',
    ]);
    for (const line of textTable(['node', 'op', 'output', 'FLOPs', 'bytes', 'params', 'formats', 'rows eliminated'], rows)) io.out(line);
    io.out();
    const perImage = graph.inputs.length === 1 && graph.inputs[0].shape[0] > 1 ? ` (batch ${graph.inputs[0].shape[0]}: ${humanCount(cost.flops / graph.inputs[0].shape[0], 'FLOPs')} per image)` : '';
    io.out(`${graph.nodes.length} nodes; ${humanCount(cost.flops, 'FLOPs')}${perImage}; ${humanCount(moved.total, 'B')} moved${formats.size ? ` (${humanCount(cost.bytes, 'B')} at float32)` : ''}; ${humanCount(params)} parameters (${humanCount(summary.parameterBytes, 'B')})`);
    if (passes) {
      io.out(
        `passes: ${passes.nodesBefore} -> ${graph.nodes.length} nodes, ${humanCount(passes.bytesBefore, 'B')} -> ${humanCount(moved.total, 'B')} moved; ` +
          `${passes.fusedOps} elementwise ops run in the epilogues of ${passes.fusedInto} nodes, ${passes.foldedOrRemoved} other nodes folded into weights or removed`,
      );
    }
    io.out(compacted.length ? `${compacted.length} compacted layers, ${summary.rowsEliminated} reduction rows eliminated` : 'no compacted layers (synapse vector elimination not applied)');
    if (formats.size) io.out(`${formats.size} values with a storage format`);
    return summary;
  },
};
