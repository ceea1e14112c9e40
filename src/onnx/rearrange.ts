// Ops that only move or repeat elements, imported as chains of ops deftnn has (so they run on
// WebGPU and train through those ops' gradients):
//   DepthToSpace / SpaceToDepth: Reshape to 6-D, Transpose, Reshape (both are views but the
//     Transpose, which is one copy);
//   Expand (target shape known at load time): x + zeros of the broadcast shape;
//   Tile (repeats known at load time): Concat of copies along each repeated axis.
// (Where, GatherElements, Scatter* ... with constant indices are in picks.ts.)

import { makeConst } from './constant.js';
import type { Handler } from './handlers.js';
import { intAttrOf, type NodeIO } from './node.js';
import { broadcastShapes } from './constant.js';

function blockSize(n: NodeIO): number {
  const b = intAttrOf(n, 'blocksize', 0);
  if (b < 1) n.fail(`attribute 'blocksize' must be a positive integer, got ${n.attrs.blocksize}`);
  return b;
}

function nchw(n: NodeIO): number[] {
  const s = n.value(0).shape;
  if (s.length !== 4) n.fail(`input must be [N, C, H, W], got [${s.join(', ')}]`);
  return [...s];
}

/** [N, C, H, W] -> [N, C/b², H·b, W·b]; mode DCR (default: depth-column-row) or CRD. */
function DepthToSpace(n: NodeIO): void {
  const [N, C, H, W] = nchw(n);
  const b = blockSize(n);
  if (C % (b * b) !== 0) n.fail(`channels ${C} are not a multiple of blocksize² = ${b * b}`);
  const c = C / (b * b);
  const mode = typeof n.attrs.mode === 'string' ? n.attrs.mode : 'DCR';
  if (mode !== 'DCR' && mode !== 'CRD') n.fail(`mode '${mode}' is not DCR or CRD`);
  const six = mode === 'DCR' ? [N, b, b, c, H, W] : [N, c, b, b, H, W];
  const perm = mode === 'DCR' ? [0, 3, 4, 1, 5, 2] : [0, 1, 4, 2, 5, 3];
  const t = n.step('Transpose', [n.step('Reshape', [0], { shape: six })], { perm });
  n.emit('Reshape', [t], { shape: [N, c, H * b, W * b] });
}

/** [N, C, H, W] -> [N, C·b², H/b, W/b]. */
function SpaceToDepth(n: NodeIO): void {
  const [N, C, H, W] = nchw(n);
  const b = blockSize(n);
  if (H % b !== 0 || W % b !== 0) n.fail(`height ${H} and width ${W} must be multiples of blocksize ${b}`);
  const t = n.step('Transpose', [n.step('Reshape', [0], { shape: [N, C, H / b, b, W / b, b] })], { perm: [0, 3, 5, 1, 2, 4] });
  n.emit('Reshape', [t], { shape: [N, C * b * b, H / b, W / b] });
}

/** Expand(x, shape): numpy broadcast of x and `shape` (which may be smaller than x). */
function Expand(n: NodeIO): void {
  const x = n.value(0).shape;
  const target = n.ints(1, 'shape');
  const out = broadcastShapes([x, target]) ?? n.fail(`cannot expand [${x.join(', ')}] to [${target.join(', ')}]`);
  if (out.length === x.length && out.every((d, i) => d === x[i])) return n.alias(0, 0);
  n.replaceInput(1, makeConst('float32', out, new Float32Array(out.reduce((a, d) => a * d, 1))));
  n.emit('Add', [0, 1], {});
}

/** Tile(x, repeats): x repeated along every axis. */
function Tile(n: NodeIO): void {
  const x = n.value(0).shape;
  const repeats = n.ints(1, 'repeats');
  if (repeats.length !== x.length) n.fail(`repeats has ${repeats.length} values for an input of rank ${x.length}`);
  if (repeats.some((r) => r < 0)) n.fail(`repeats [${repeats.join(', ')}] must not be negative`);
  if (repeats.some((r) => r === 0)) n.fail(`repeats [${repeats.join(', ')}] would give an empty tensor; deftnn does not run those`);
  const axes = repeats.flatMap((r, axis) => (r > 1 ? [axis] : []));
  if (axes.length === 0) return n.alias(0, 0);
  let v: number | string = 0;
  axes.forEach((axis, k) => {
    const copies = new Array<number | string>(repeats[axis]).fill(v);
    if (k === axes.length - 1) n.emit('Concat', copies, { axis });
    else v = n.step('Concat', copies, { axis });
  });
}

export const REARRANGE_HANDLERS: Readonly<Record<string, Handler>> = { DepthToSpace, SpaceToDepth, Expand, Tile };

/** The registry ops each of them emits. */
export const REARRANGE_EMITS: Readonly<Record<string, readonly string[]>> = {
  DepthToSpace: ['Reshape', 'Transpose'],
  SpaceToDepth: ['Reshape', 'Transpose'],
  Expand: ['Add'],
  Tile: ['Concat'],
};
