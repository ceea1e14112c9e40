// Concat along one axis. Seen as 2-D, every input k is [outer, L_k] with L_k = dims_k[axis] * inner,
// and the output is [outer, sum L_k]: row o of input k lands at column offset_k of output row o.
//
// On WebGPU one dispatch copies a group of inputs, one invocation per element: the invocation
// finds its input by comparing its column with the group's baked cumulative lengths. A group
// binds at most MAX_INPUTS_PER_DISPATCH inputs plus the output, within the 8 storage buffers per
// shader stage that WebGPU guarantees (maxStorageBuffersPerShaderStage); more inputs take more
// dispatches, each writing its own columns.

import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, linearGrid, u32 } from '../kernels/wgsl.js';
import { defineOp, intAttr, OpError } from './op.js';
import { type Binding, type Dispatch, type KernelContext } from '../kernels/context.js';

interface ConcatAttrs {
  /** Normalised axis in [0, rank). */
  readonly axis: number;
}

const MAX_INPUTS_PER_DISPATCH = 7;
const WG = 256;

/** outer = prod(dims before axis), and each input's row length L_k = dims_k[axis] * inner. */
function layout(inputs: readonly Shape[], axis: number): { outer: number; rows: number[] } {
  return { outer: sizeOf(inputs[0].slice(0, axis)), rows: inputs.map((s) => sizeOf(s.slice(axis))) };
}

function copyGroup(group: readonly number[], rows: readonly number[], offsets: readonly number[], outRow: number, outer: number, ctx: KernelContext): Dispatch {
  const width = group.reduce((s, k) => s + rows[k], 0);
  const decls = group.map((_, j) => `@group(0) @binding(${j}) var<storage, read> x${j}: array<f32>;`);
  decls.push(`@group(0) @binding(${group.length}) var<storage, read_write> y: array<f32>;`);
  // An if-chain over the group's inputs, by the column's place in the group's concatenated row.
  const plus = (n: number) => (n === 0 ? '' : ` + ${u32(n)}`);
  let start = 0;
  const branches = group.map((k, j) => {
    const copy = `let c = col - ${u32(start)}; y[o * ${u32(outRow)}${plus(offsets[k])} + c] = x${j}[o * ${u32(rows[k])} + c];`;
    const code = j === group.length - 1 ? `{ ${copy} }` : `if (col < ${u32(start + rows[k])}) { ${copy} }`;
    start += rows[k];
    return code;
  });
  const body = `  let o = i / ${u32(width)};
  let col = i % ${u32(width)};
  ${branches.join(' else ')}`;
  const wgsl = `${decls.join('\n')}\n${elementwiseMain(outer * width, WG, body)}`;
  const bindings: Binding[] = [...group.map((k) => ({ input: k })), { output: 0 }];
  return { wgsl, workgroups: linearGrid(outer * width, WG, ctx), bindings };
}

export const concatOp = defineOp<ConcatAttrs>({
  type: 'Concat',
  arity: [1, 64],
  attrs: (raw, inputs) => {
    const first = inputs[0];
    const r = first.length;
    const axis = intAttr(raw, 'axis');
    if (r === 0) throw new OpError('cannot concatenate scalars (rank-0 inputs)');
    if (axis < -r || axis >= r) throw new OpError(`attribute 'axis' = ${axis} is out of range [${-r}, ${r - 1}] for inputs of rank ${r}`);
    const a = axis < 0 ? axis + r : axis;
    inputs.forEach((s, k) => {
      const fits = s.length === r && s.every((d, i) => i === a || d === first[i]);
      if (!fits) {
        throw new OpError(`input ${k} has shape ${shapeStr(s)}, which does not match input 0 ${shapeStr(first)} outside axis ${a}`);
      }
    });
    return { axis: a };
  },
  shape: (inputs, { axis }) => {
    const out = [...inputs[0]];
    out[axis] = inputs.reduce((s, x) => s + x[axis], 0);
    return [out];
  },
  cpu: (inputs, { axis }) => {
    const { outer, rows } = layout(inputs.map((t) => t.shape), axis);
    const outRow = rows.reduce((a, b) => a + b, 0);
    const shape = [...inputs[0].shape];
    shape[axis] = inputs.reduce((s, x) => s + x.shape[axis], 0);
    const y = new Float32Array(outer * outRow);
    let offset = 0;
    inputs.forEach((x, k) => {
      for (let o = 0; o < outer; o++) {
        for (let c = 0; c < rows[k]; c++) y[o * outRow + offset + c] = x.data[o * rows[k] + c];
      }
      offset += rows[k];
    });
    return [new Tensor(shape, y)];
  },
  gpu: (inputs, _out, { axis }, ctx) => {
    const { outer, rows } = layout(inputs, axis);
    const outRow = rows.reduce((a, b) => a + b, 0);
    const offsets = rows.map((_, k) => rows.slice(0, k).reduce((a, b) => a + b, 0));
    if (outer === 0) return [];
    // Empty inputs have nothing to copy (and a 0-length row would make a `% 0u`).
    const live = rows.flatMap((n, k) => (n > 0 ? [k] : []));
    const dispatches: Dispatch[] = [];
    for (let g = 0; g < live.length; g += MAX_INPUTS_PER_DISPATCH) {
      dispatches.push(copyGroup(live.slice(g, g + MAX_INPUTS_PER_DISPATCH), rows, offsets, outRow, outer, ctx));
    }
    return dispatches;
  },
  // Input k's gradient is its own stretch of the output's gradient along the axis.
  grad: (g) => {
    const gy = g.gradOutputs[0]!;
    const axis = g.attrs.axis;
    let offset = 0;
    return g.inputShapes.map((s, k) => {
      const start = offset;
      offset += s[axis];
      return g.wants[k] ? g.emit('Slice', [gy], { starts: [start], ends: [offset], axes: [axis] }) : undefined;
    });
  },
});
