// Helpers for the forms ONNX ops had before opset 7 (down to opset 1), used by the handlers in
// handlers.ts so that the IR only ever sees the current form.

import { OPS } from '../ops/registry.js';
import type { RawAttrs } from '../ops/op.js';
import type { DType } from './constant.js';
import { intAttrOf, normAxis, type NodeIO } from './node.js';

/**
 * Attributes of opset 1-6 definitions that mean nothing to an inference importer: the in-place
 * hint `consumed_inputs` (version 1) and `is_test` (BatchNormalization, Dropout before 7; deftnn
 * always runs inference).
 */
export const LEGACY_ATTRS: readonly string[] = ['consumed_inputs', 'is_test'];

/**
 * Add/Sub/Mul/Div/Pow before version 7: without `broadcast=1` both inputs have one shape; with it,
 * B is broadcast onto A, its dimensions matched against A's from `axis` on (default: B's trailing
 * alignment, which is numpy's). A B matched from an earlier axis than numpy would is reshaped with
 * trailing 1s (it must then be a constant, as the bias of those models is).
 */
export function legacyBroadcast(n: NodeIO, passthrough: (n: NodeIO, drop: readonly string[]) => void): void {
  if (n.opset >= 7) return passthrough(n, []);
  const a = n.value(0).shape;
  const b = n.value(1).shape;
  const shapes = `A [${a.join(', ')}] and B [${b.join(', ')}]`;
  if (!intAttrOf(n, 'broadcast', 0)) {
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) n.fail(`${shapes} differ and broadcast is not set (before version 7 that is an error)`);
    return passthrough(n, ['broadcast', 'axis']);
  }
  const axis = n.attrs.axis === undefined ? a.length - b.length : normAxis(n, intAttrOf(n, 'axis', 0), a.length);
  if (axis < 0 || axis + b.length > a.length) n.fail(`B cannot be broadcast onto A from axis ${axis}: ${shapes}`);
  b.forEach((d, i) => {
    if (d !== 1 && d !== a[axis + i]) n.fail(`B does not match A from axis ${axis}: ${shapes}`);
  });
  const trailing = a.length - axis - b.length;
  if (trailing > 0) {
    const c = n.constant(1) ?? n.fail(`B broadcast from axis ${axis} (${shapes}) must be known at load time`);
    n.replaceInput(1, { dtype: c.dtype, shape: [...b, ...new Array<number>(trailing).fill(1)], data: c.data });
  }
  passthrough(n, ['broadcast', 'axis']);
}

/** Cast-1's `to`, a type name string. */
export function legacyCastTarget(n: NodeIO): DType | undefined {
  const to = n.attrs.to;
  const names: Record<string, DType> = {
    FLOAT: 'float32', DOUBLE: 'float64', UINT8: 'uint8', INT8: 'int8', UINT16: 'uint16', INT16: 'int16',
    INT32: 'int32', INT64: 'int64', UINT32: 'uint32', UINT64: 'uint64', BOOL: 'bool',
  };
  return typeof to === 'string' ? names[to.toUpperCase()] : undefined;
}

/** Upsample-1 (experimental): `height_scale`, `width_scale` of an NCHW input, modes NEAREST and BILINEAR. */
export function legacyUpsample(n: NodeIO): RawAttrs {
  if (!OPS.has('Upsample')) n.fail(`needs the op 'Upsample', which is not registered`);
  const h = n.attrs.height_scale;
  const w = n.attrs.width_scale;
  if (typeof h !== 'number' || typeof w !== 'number') n.fail(`needs the attributes height_scale and width_scale`);
  const mode = String(n.attrs.mode ?? 'NEAREST').toLowerCase();
  if (mode !== 'nearest' && mode !== 'bilinear') n.fail(`mode '${n.attrs.mode}' is not supported (NEAREST, BILINEAR)`);
  if (n.value(0).shape.length !== 4) n.fail(`version 1 upsamples NCHW inputs; got rank ${n.value(0).shape.length}`);
  return { mode: mode === 'bilinear' ? 'linear' : 'nearest', scales: [1, 1, h, w] };
}
