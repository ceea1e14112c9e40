// Ops whose output depends only on shapes, attributes and load-time inputs, so the importer
// computes it as a constant: EyeLike (the identity of its input's shape) and the window functions
// of opset 17 (HannWindow, HammingWindow, BlackmanWindow, of a constant size).

import { makeConst } from './constant.js';
import { ONNX_DTYPES } from './fold.js';
import type { Handler } from './handlers.js';
import { intAttrOf, type NodeIO } from './node.js';

/** The element type asked for by attribute `name` (a TensorProto data type; default float). */
function dtypeAttr(n: NodeIO, name: string) {
  const t = n.attrs[name];
  return t === undefined ? 'float32' : (ONNX_DTYPES[t as number] ?? n.fail(`${name} ${String(t)} is not supported`));
}

/** EyeLike(input; k, dtype): ones on diagonal k of a 2-D tensor of the input's shape. */
function EyeLike(n: NodeIO): void {
  const shape = n.value(0).shape;
  if (shape.length !== 2) n.fail(`input must be 2-D, got [${shape.join(', ')}]`);
  const [rows, cols] = shape;
  const k = intAttrOf(n, 'k', 0);
  const data = Array.from({ length: rows * cols }, (_, p) => (p % cols === Math.floor(p / cols) + k ? 1 : 0));
  n.setConst(0, makeConst(dtypeAttr(n, 'dtype'), [rows, cols], data));
}

/**
 * A window of `size` values w[i] = Σ_j a_j · cos(2π·j·i / N), N = size when `periodic` (the
 * default), size - 1 when symmetric; the coefficients as ONNX defines them (Hamming: 25/46).
 */
function cosineWindow(coefficients: readonly number[]): Handler {
  return (n) => {
    const size = n.scalar(0, 'size');
    if (!Number.isInteger(size) || size < 1) n.fail(`size must be a positive integer, got ${size}`);
    const N = intAttrOf(n, 'periodic', 1) ? size : size - 1;
    const data = Array.from({ length: size }, (_, i) => coefficients.reduce((w, a, j) => w + a * Math.cos((2 * Math.PI * j * i) / N), 0));
    n.setConst(0, makeConst(dtypeAttr(n, 'output_datatype'), [size], data));
  };
}

export const GENERATOR_HANDLERS: Readonly<Record<string, Handler>> = {
  EyeLike,
  HannWindow: cosineWindow([0.5, -0.5]),
  HammingWindow: cosineWindow([25 / 46, -(1 - 25 / 46)]),
  BlackmanWindow: cosineWindow([0.42, -0.5, 0.08]),
};

/** None of them emits an op. */
export const GENERATOR_EMITS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(Object.keys(GENERATOR_HANDLERS).map((op) => [op, []]));
