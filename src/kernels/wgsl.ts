// Small WGSL text builders shared by every kernel. Shapes are baked into the generated text as
// constants: each distinct shape gets its own pipeline, compiled once per graph, and the compiler
// sees every loop bound.

import type { Binding, KernelContext } from './context.js';

/** A WGSL f32 literal for any JS number (non-finite values become the nearest representable). */
export function f32(x: number): string {
  if (Number.isNaN(x)) throw new RangeError('NaN cannot be a WGSL literal');
  if (x === Infinity || x > 3.4028234663852886e38) return '3.4028234663852886e38f';
  if (x === -Infinity || x < -3.4028234663852886e38) return '-3.4028234663852886e38f';
  const s = Math.fround(x).toString();
  return s.includes('.') || s.includes('e') ? `${s}f` : `${s}.0f`;
}

/** An unsigned literal. */
export function u32(x: number): string {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`not a u32: ${x}`);
  return `${x}u`;
}

/** An i32 literal. */
export function i32(x: number): string {
  if (!Number.isInteger(x) || x < -0x80000000 || x > 0x7fffffff) throw new RangeError(`not an i32: ${x}`);
  return `(${x}i)`; // parenthesised either way, so that a sign change keeps the text's structure (kernels/uniforms.ts)
}

/**
 * `var<storage>` declarations for a dispatch's bindings, in binding order. `names[i]` names
 * binding i; `types[i]` is its element type (default f32). Inputs and constants are read-only.
 */
export function bindingDecls(bindings: readonly Binding[], names: readonly string[], types: readonly string[] = []): string {
  return bindings
    .map((b, i) => {
      const access = 'output' in b ? 'read_write' : 'read';
      return `@group(0) @binding(${i}) var<storage, ${access}> ${names[i]}: array<${types[i] ?? 'f32'}>;`;
    })
    .join('\n');
}

/**
 * A 1-D range of `count` invocations spread over a 2-D grid of workgroups when it exceeds the
 * per-dimension limit. The kernel computes its index with `linearIndex` (see `LINEAR_INDEX_FN`).
 */
export function linearGrid(count: number, workgroupSize: number, ctx: KernelContext): [number, number, number] {
  const groups = Math.max(1, Math.ceil(count / workgroupSize));
  const max = ctx.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1, 1];
  const y = Math.ceil(groups / max);
  if (y > max) throw new RangeError(`${count} invocations exceed the adapter's dispatch limits`);
  return [Math.ceil(groups / y), y, 1];
}

/** WGSL helper turning the (possibly 2-D) dispatch of linearGrid back into one index. */
export function linearIndexFn(workgroupSize: number): string {
  return `fn linearIndex(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * ${workgroupSize}u; }`;
}

/** The standard header of a 1-D elementwise kernel: bindings, then `main` with index `i` < count. */
export function elementwiseMain(count: number, workgroupSize: number, body: string): string {
  return `${linearIndexFn(workgroupSize)}
@compute @workgroup_size(${workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg);
  if (i >= ${u32(count)}) { return; }
${body}
}`;
}

/**
 * Simplify a strided walk over `dims` (row-major) where operand k steps `strides[k][d]` elements
 * per unit of dim d (0 where it is broadcast): size-1 dims go, and neighbours that every operand
 * walks contiguously merge, so a same-shape elementwise op needs no div/mod at all.
 */
export function coalesceDims(dims: readonly number[], strides: readonly (readonly number[])[]): { dims: number[]; strides: number[][] } {
  const keep = dims.map((d, i) => i).filter((i) => dims[i] !== 1);
  const outDims: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const d of keep) {
    const last = outDims.length - 1;
    const mergeable = last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * dims[d]);
    if (mergeable) {
      outDims[last] *= dims[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outDims.push(dims[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { dims: outDims, strides: outStrides };
}

/**
 * WGSL statements declaring `let ${names[k]}: u32`, the element offset of operand k at the flat
 * row-major index `idx` of `dims`, with the constants baked in (run coalesceDims first).
 */
export function stridedOffsets(idx: string, dims: readonly number[], strides: readonly (readonly number[])[], names: readonly string[]): string {
  const lines: string[] = [];
  const coords: string[] = [];
  if (dims.length === 1) coords.push(idx);
  else if (dims.length > 1) {
    lines.push(`  var rest = ${idx};`);
    for (let d = dims.length - 1; d > 0; d--) {
      lines.push(`  let c${d} = rest % ${u32(dims[d])}; rest = rest / ${u32(dims[d])};`);
    }
    lines.push('  let c0 = rest;');
    for (let d = 0; d < dims.length; d++) coords.push(`c${d}`);
  }
  strides.forEach((s, k) => {
    const terms = coords.flatMap((c, d) => (s[d] === 0 ? [] : [s[d] === 1 ? c : `${c} * ${u32(s[d])}`]));
    lines.push(`  let ${names[k]} = ${terms.length ? terms.join(' + ') : '0u'};`);
  });
  return lines.join('\n');
}

/**
 * WGSL statements declaring `let ${prefix}${d}: u32` for every dim d of `dims`: the row-major
 * coordinates of the flat u32 expression `idx` (which must be below the product of `dims`).
 * Each call uses its own prefix, so one kernel can unravel several indices.
 */
export function unravelWgsl(idx: string, dims: readonly number[], prefix: string): string {
  if (dims.length === 0) return '';
  const lines = [`  var ${prefix}_rest = ${idx};`];
  for (let d = dims.length - 1; d > 0; d--) {
    if (dims[d] === 1) lines.push(`  let ${prefix}${d} = 0u;`);
    else lines.push(`  let ${prefix}${d} = ${prefix}_rest % ${u32(dims[d])}; ${prefix}_rest = ${prefix}_rest / ${u32(dims[d])};`);
  }
  lines.push(`  let ${prefix}0 = ${prefix}_rest;`);
  return lines.join('\n');
}
