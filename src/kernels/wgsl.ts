// Small WGSL text builders shared by every kernel. Shapes are baked into the generated text as
// constants: each distinct shape gets its own pipeline, compiled once per graph, and the compiler
// sees every loop bound.

import type { Binding, KernelContext } from '../ops/op.js';

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
  return x < 0 ? `(${x}i)` : `${x}i`;
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
