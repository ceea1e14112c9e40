// A CPU tensor: NCHW float32 data with its shape. GPU-resident intermediates never leave the
// executor (graph/session.ts), so the public API only ever hands out CPU tensors.

import { InputError } from './errors.js';

export type Shape = readonly number[];

export class Tensor {
  readonly shape: Shape;
  readonly data: Float32Array;

  constructor(shape: Shape, data?: Float32Array | ArrayLike<number>) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new InputError(`invalid tensor shape [${shape.join(', ')}]`);
    }
    const n = sizeOf(shape);
    const arr = data === undefined ? new Float32Array(n) : data instanceof Float32Array ? data : Float32Array.from(data);
    if (arr.length !== n) {
      throw new InputError(`tensor of shape [${shape.join(', ')}] needs ${n} values, got ${arr.length}`);
    }
    this.shape = [...shape];
    this.data = arr;
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  reshape(shape: Shape): Tensor {
    return new Tensor(shape, this.data);
  }
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
