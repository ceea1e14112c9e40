// GridSample (opset 16; opset 20's names too) on 2-D inputs: X [N, C, H, W] sampled at the
// points of grid [N, Ho, Wo, 2] (x then y, in [-1, 1] across the input) gives Y [N, C, Ho, Wo].
// The rules are PyTorch's grid_sample, which ONNX adopted:
//   - a grid value g maps to the input coordinate ((g + 1) / 2)·(size - 1) with align_corners,
//     else ((g + 1)·size - 1) / 2 (pixel centres);
//   - padding_mode zeros reads 0 outside the input; border clamps the coordinate to [0, size - 1];
//     reflection reflects it about the borders (the corner pixels' centres with align_corners, their
//     outer edges without), then clamps;
//   - mode bilinear (opset 20: linear) blends the 4 neighbours; nearest takes the nearest pixel,
//     halves to even; bicubic (cubic) blends 4×4 neighbours with Keys' weights (A = -0.75), the
//     padding rule applied to each tap's coordinate rather than to the sample point.
// The CPU reference and the WGSL kernel (one invocation per output element) follow the same steps.
// No gradient yet.

import { sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, linearGrid, u32 } from '../kernels/wgsl.js';
import type { KernelContext } from '../kernels/context.js';
import { defineOp, intAttr, OpError, stringAttr } from './op.js';
import { cubicWeights } from './resize.js';

type Mode = 'bilinear' | 'nearest' | 'bicubic';
type Padding = 'zeros' | 'border' | 'reflection';

interface GridSampleAttrs {
  readonly mode: Mode;
  readonly padding: Padding;
  readonly alignCorners: boolean;
  readonly out: readonly [number, number, number, number];
}

function resolve(raw: Parameters<typeof intAttr>[0], [x, grid]: readonly Shape[]): GridSampleAttrs {
  if (x.length !== 4) throw new OpError(`input X must be [N, C, H, W] (2-D sampling only), got [${x.join(', ')}]`);
  if (grid.length !== 4 || grid[0] !== x[0] || grid[3] !== 2) throw new OpError(`grid must be [N, Ho, Wo, 2] with N = ${x[0]}, got [${grid.join(', ')}]`);
  const rawMode = stringAttr(raw, 'mode', 'bilinear');
  const mode = ({ linear: 'bilinear', cubic: 'bicubic' } as Record<string, Mode>)[rawMode] ?? rawMode;
  if (!['bilinear', 'nearest', 'bicubic'].includes(mode)) throw new OpError(`attribute 'mode' must be bilinear, nearest or bicubic (linear, cubic), got '${rawMode}'`);
  const padding = stringAttr(raw, 'padding_mode', 'zeros');
  if (!['zeros', 'border', 'reflection'].includes(padding)) throw new OpError(`attribute 'padding_mode' must be zeros, border or reflection, got '${padding}'`);
  const align = intAttr(raw, 'align_corners', 0);
  if (align !== 0 && align !== 1) throw new OpError(`attribute 'align_corners' must be 0 or 1, got ${align}`);
  return { mode: mode as Mode, padding: padding as Padding, alignCorners: align === 1, out: [x[0], x[1], grid[1], grid[2]] };
}

/** The input coordinate of grid value g along an axis of `size` pixels. */
function unnormalize(g: number, size: number, align: boolean): number {
  return align ? ((g + 1) / 2) * (size - 1) : ((g + 1) * size - 1) / 2;
}

/** PyTorch's reflect_coordinates: reflect x into [lo2 / 2, hi2 / 2] (bounds given doubled). */
function reflect(x: number, lo2: number, hi2: number): number {
  if (lo2 === hi2) return 0;
  const min = lo2 / 2;
  const span = (hi2 - lo2) / 2;
  const d = Math.abs(x - min);
  const extra = d % span;
  return Math.floor(d / span) % 2 === 0 ? extra + min : span - extra + min;
}

/** The padding rule applied to coordinate x along an axis of `size` pixels. */
function pad(x: number, size: number, a: GridSampleAttrs): number {
  const clamp = (v: number) => Math.min(Math.max(v, 0), size - 1);
  if (a.padding === 'border') return clamp(x);
  if (a.padding === 'reflection') return clamp(a.alignCorners ? reflect(x, 0, 2 * (size - 1)) : reflect(x, -1, 2 * size - 1));
  return x;
}

const roundHalfEven = (v: number) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));

function cpu(x: Tensor, grid: Tensor, a: GridSampleAttrs): Tensor {
  const [N, C, Ho, Wo] = a.out;
  const [H, W] = [x.shape[2], x.shape[3]];
  const y = new Float32Array(sizeOf(a.out));
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const at = (iy: number, ix: number) => (iy >= 0 && iy < H && ix >= 0 && ix < W ? x.data[((n * C + c) * H + iy) * W + ix] : 0);
      for (let p = 0; p < Ho * Wo; p++) {
        const gx = unnormalize(grid.data[(n * Ho * Wo + p) * 2], W, a.alignCorners);
        const gy = unnormalize(grid.data[(n * Ho * Wo + p) * 2 + 1], H, a.alignCorners);
        let v = 0;
        if (a.mode === 'bicubic') {
          const [x0, y0] = [Math.floor(gx), Math.floor(gy)];
          const [wx, wy] = [cubicWeights(gx - x0, -0.75), cubicWeights(gy - y0, -0.75)];
          for (let j = 0; j < 4; j++) {
            for (let i = 0; i < 4; i++) v += wy[j] * wx[i] * at(Math.floor(pad(y0 - 1 + j, H, a)), Math.floor(pad(x0 - 1 + i, W, a)));
          }
        } else {
          const [px, py] = [pad(gx, W, a), pad(gy, H, a)];
          if (a.mode === 'nearest') v = at(roundHalfEven(py), roundHalfEven(px));
          else {
            const [x0, y0] = [Math.floor(px), Math.floor(py)];
            const [tx, ty] = [px - x0, py - y0];
            v = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x0 + 1)) + ty * ((1 - tx) * at(y0 + 1, x0) + tx * at(y0 + 1, x0 + 1));
          }
        }
        y[(n * C + c) * Ho * Wo + p] = v;
      }
    }
  }
  return new Tensor(a.out, y);
}

const WG = 64;

function gpu([x]: readonly Shape[], a: GridSampleAttrs, ctx: KernelContext) {
  const [N, C, Ho, Wo] = a.out;
  const [H, W] = [x[2], x[3]];
  const total = N * C * Ho * Wo;
  if (total === 0) return [];
  const unnorm = (g: string, size: number) => (a.alignCorners ? `(${g} + 1.0) * 0.5 * ${size - 1}.0` : `((${g} + 1.0) * ${size}.0 - 1.0) * 0.5`);
  const padTo = (v: string, size: number) => {
    if (a.padding === 'border') return `clamp(${v}, 0.0, ${size - 1}.0)`;
    if (a.padding === 'reflection') return `clamp(${a.alignCorners ? `reflect(${v}, 0.0, ${2 * (size - 1)}.0)` : `reflect(${v}, -1.0, ${2 * size - 1}.0)`}, 0.0, ${size - 1}.0)`;
    return v;
  };
  let sample: string;
  if (a.mode === 'bicubic') {
    sample = `  let x0 = floor(gx);
  let y0 = floor(gy);
  let wx = keys(gx - x0);
  let wy = keys(gy - y0);
  var v = 0.0;
  for (var j = 0; j < 4; j++) {
    let iy = i32(floor(${padTo('y0 + f32(j - 1)', H)}));
    var row = 0.0;
    for (var k = 0; k < 4; k++) { row += wx[k] * at(base, iy, i32(floor(${padTo('x0 + f32(k - 1)', W)}))); }
    v += wy[j] * row;
  }`;
  } else if (a.mode === 'nearest') {
    sample = `  var v = at(base, i32(round(${padTo('gy', H)})), i32(round(${padTo('gx', W)})));`;
  } else {
    sample = `  let px = ${padTo('gx', W)};
  let py = ${padTo('gy', H)};
  let x0 = floor(px);
  let y0 = floor(py);
  let tx = px - x0;
  let ty = py - y0;
  let ix = i32(x0);
  let iy = i32(y0);
  var v = (1.0 - ty) * ((1.0 - tx) * at(base, iy, ix) + tx * at(base, iy, ix + 1)) + ty * ((1.0 - tx) * at(base, iy + 1, ix) + tx * at(base, iy + 1, ix + 1));`;
  }
  const body = `  let p = i % ${u32(Ho * Wo)};
  let nc = i / ${u32(Ho * Wo)};
  let n = nc / ${u32(C)};
  let g = (n * ${u32(Ho * Wo)} + p) * 2u;
  let gx = ${unnorm('grid[g]', W)};
  let gy = ${unnorm('grid[g + 1u]', H)};
  let base = nc * ${u32(H * W)};
${sample}
  y[i] = v;`;
  const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> grid: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// X at (iy, ix) of plane \`base\`, 0 outside.
fn at(base: u32, iy: i32, ix: i32) -> f32 {
  if (iy < 0 || iy >= ${H} || ix < 0 || ix >= ${W}) { return 0.0; }
  return x[base + u32(iy) * ${u32(W)} + u32(ix)];
}
// PyTorch's reflect_coordinates, bounds given doubled.
fn reflect(v: f32, lo2: f32, hi2: f32) -> f32 {
  if (lo2 == hi2) { return 0.0; }
  let lo = lo2 * 0.5;
  let span = (hi2 - lo2) * 0.5;
  let d = abs(v - lo);
  let extra = d - span * floor(d / span);
  return select(span - extra + lo, extra + lo, (i32(floor(d / span)) & 1) == 0);
}
// Keys' cubic weights (A = -0.75) of the taps at floor - 1 .. floor + 2, t the fraction.
fn keys(t: f32) -> vec4<f32> {
  let A = -0.75;
  let far = vec2<f32>(t + 1.0, 2.0 - t);
  let near = vec2<f32>(t, 1.0 - t);
  let wf = ((A * far - 5.0 * A) * far + 8.0 * A) * far - 4.0 * A;
  let wn = ((A + 2.0) * near - (A + 3.0)) * near * near + 1.0;
  return vec4<f32>(wf.x, wn.x, wn.y, wf.y);
}
${elementwiseMain(total, WG, body)}`;
  return [{ wgsl, workgroups: linearGrid(total, WG, ctx), bindings: [{ input: 0 }, { input: 1 }, { output: 0 }] }];
}

export const gridSampleOp = defineOp<GridSampleAttrs>({
  type: 'GridSample',
  arity: [2, 2],
  attrs: (raw, inputs) => resolve(raw, inputs),
  shape: (_, a) => [[...a.out]],
  cpu: ([x, grid], a) => [cpu(x, grid, a)],
  gpu: (inputs, _out, a, ctx) => gpu(inputs, a, ctx),
});
