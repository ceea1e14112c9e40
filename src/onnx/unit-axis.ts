// 1-D convolution and pooling (audio and keyword-spotting CNNs: X is [N, C, L]) run on the 2-D
// kernels with a unit height: X is unsqueezed to [N, C, 1, L], the weight to [M, C/g, 1, K], the
// attributes gain a leading entry that does nothing along the unit axis (kernel 1, stride 1,
// dilation 1, no padding), and the result is squeezed back to [N, M, L'].

import type { RawAttrs } from '../ops/op.js';
import { LEGACY_ATTRS } from './legacy.js';
import type { NodeIO } from './node.js';

/** Per-axis attributes given for the one spatial axis, with the unit axis's neutral value first. */
const NEUTRAL: Readonly<Record<string, number>> = { kernel_shape: 1, strides: 1, dilations: 1, output_padding: 0 };

function attrs2d(n: NodeIO): RawAttrs {
  const out: Record<string, RawAttrs[string]> = {};
  for (const [k, v] of Object.entries(n.attrs)) {
    if (k in NEUTRAL && Array.isArray(v)) out[k] = [NEUTRAL[k], ...(v as number[])];
    else if (k === 'pads' && Array.isArray(v)) out[k] = [0, (v as number[])[0], 0, (v as number[])[1]];
    else if (k === 'output_shape' && Array.isArray(v)) out[k] = [1, ...(v as number[])];
    else out[k] = v;
  }
  return out;
}

/**
 * Import node `n` (Conv, ConvTranspose, MaxPool, AveragePool with a [N, C, L] input) as the 2-D
 * op over a unit axis. `weighted`: input 1 is a weight [M, C/g, K] (bias, input 2, is unchanged).
 */
export function importOnUnitAxis(n: NodeIO, weighted: boolean, drop: readonly string[] = []): void {
  const x = n.step('Unsqueeze', [0], { axes: [2] });
  const inputs: (number | string)[] = [x];
  if (weighted) {
    const w = n.value(1);
    if (w.shape.length !== 3) n.fail(`weight must be [M, C/group, K] for a 1-D input, got [${w.shape.join(', ')}]`);
    const c = n.constant(1);
    if (c) {
      n.replaceInput(1, { ...c, shape: [w.shape[0], w.shape[1], 1, w.shape[2]] });
      inputs.push(1);
    } else inputs.push(n.step('Unsqueeze', [1], { axes: [2] }));
    if (n.has(2)) inputs.push(2);
  }
  const attrs = Object.fromEntries(Object.entries(attrs2d(n)).filter(([k]) => !drop.includes(k) && !LEGACY_ATTRS.includes(k)));
  const y = n.step(n.node.opType, inputs, attrs);
  n.emit('Squeeze', [y], { axes: [2] });
}
