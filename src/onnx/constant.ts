// Constants inside the importer. Our Tensor is float32, but shape arithmetic in exported graphs
// (Shape -> Gather -> Concat -> Reshape, Cast to int64, Range ...) is integer, and int64 values
// such as INT64_MAX slice ends do not survive float32. So the importer keeps its own constant:
// integers in a Float64Array (exact up to 2^53), float32 in a Float32Array. Only the constants
// that reach a runtime op become Tensors.

import { Tensor, type Shape } from '../tensor.js';

export type DType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export interface Const {
  readonly dtype: DType;
  readonly shape: Shape;
  /** Row-major values; Float32Array exactly when dtype is float32. */
  readonly data: Float32Array | Float64Array;
}

export function constSize(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

/** A constant of `dtype` from any numbers, converted as ONNX Cast does (floats truncate to ints). */
export function makeConst(dtype: DType, shape: Shape, values: ArrayLike<number>): Const {
  const n = constSize(shape);
  if (values.length !== n) throw new RangeError(`constant of shape [${shape.join(', ')}] needs ${n} values, got ${values.length}`);
  if (dtype === 'float32') return { dtype, shape: [...shape], data: Float32Array.from(values) };
  const data = Float64Array.from(values);
  if (dtype === 'bool') for (let i = 0; i < n; i++) data[i] = data[i] !== 0 && !Number.isNaN(data[i]) ? 1 : 0;
  else if (dtype !== 'float64') {
    const range = INT_RANGE[dtype];
    for (let i = 0; i < n; i++) {
      let v = Math.trunc(data[i]);
      // Out-of-range integer casts wrap in onnxruntime (two's complement); do the same.
      if (range && (v < range[0] || v > range[1])) {
        const span = range[1] - range[0] + 1;
        v = ((((v - range[0]) % span) + span) % span) + range[0];
      }
      data[i] = v;
    }
  }
  return { dtype, shape: [...shape], data };
}

export function scalarConst(dtype: DType, v: number): Const {
  return makeConst(dtype, [], [v]);
}

/** The float32 Tensor a runtime op reads. */
export function toTensor(c: Const): Tensor {
  return new Tensor(c.shape, c.data instanceof Float32Array ? c.data : Float32Array.from(c.data));
}

export function fromTensor(t: Tensor): Const {
  return { dtype: 'float32', shape: [...t.shape], data: t.data };
}

/** ONNX multidirectional (numpy) broadcasting of shapes; null when they do not broadcast. */
export function broadcastShapes(shapes: readonly Shape[]): number[] | null {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    let d = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + k] ?? 1;
      if (e === 1) continue;
      if (d !== 1 && d !== e) return null;
      d = e;
    }
    out.push(d);
  }
  return out;
}

/** For each flat index of `out`, the flat index into a tensor of `shape` broadcast to it. */
export function broadcastIndex(shape: Shape, out: Shape): (i: number) => number {
  const r = out.length;
  const strides = new Array<number>(r).fill(0);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    const j = r - shape.length + k;
    strides[j] = shape[k] === 1 ? 0 : acc;
    acc *= shape[k];
  }
  return (i) => {
    let src = 0;
    for (let k = r - 1; k >= 0; k--) {
      const d = out[k];
      src += (i % d) * strides[k];
      i = Math.floor(i / d);
    }
    return src;
  };
}

export function constStr(c: Const): string {
  const vals = c.data.length <= 8 ? [...c.data].join(', ') : `${[...c.data.slice(0, 8)].join(', ')}, ...`;
  return `${c.dtype}[${c.shape.join(', ')}] {${vals}}`;
}
