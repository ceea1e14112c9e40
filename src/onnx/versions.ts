// Each node's op version: the newest version of its op's definition that is not newer than the
// model's opset for the default domain (ONNX's rule), so handlers and messages can speak of "Pad
// version 2" rather than of the model's opset. The history up to opset 17 is generated from the
// onnx package (schema-versions.ts); what changed in 18-21 is listed here from ONNX's Changelog.md.

import { SCHEMA_VERSIONS } from './schema-versions.js';

const LATER: Readonly<Record<number, readonly string[]>> = {
  18: ['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'Pad', 'Resize', 'Split', 'ScatterElements', 'ScatterND', 'LpPool', 'Mish', 'GroupNormalization', 'Col2Im', 'CenterCropPad', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'BitwiseNot', 'OptionalHasElement', 'OptionalGetElement'],
  19: ['AveragePool', 'Cast', 'CastLike', 'Constant', 'DequantizeLinear', 'Equal', 'Identity', 'If', 'Loop', 'Pad', 'QuantizeLinear', 'Reshape', 'Resize', 'Scan', 'Shape', 'Size', 'DeformConv'],
  20: ['AffineGrid', 'ConstantOfShape', 'DFT', 'Gelu', 'GridSample', 'ImageDecoder', 'IsInf', 'IsNaN', 'ReduceMax', 'ReduceMin', 'RegexFullMatch', 'StringConcat', 'StringSplit'],
  21: ['Cast', 'CastLike', 'Constant', 'ConstantOfShape', 'DequantizeLinear', 'Flatten', 'GroupNormalization', 'Identity', 'If', 'Loop', 'Pad', 'QLinearMatMul', 'QuantizeLinear', 'Reshape', 'Scan', 'Shape', 'Size', 'Squeeze', 'Transpose', 'Unsqueeze'],
};

const HISTORY: ReadonlyMap<string, readonly number[]> = (() => {
  const h = new Map<string, number[]>(Object.entries(SCHEMA_VERSIONS).map(([op, v]) => [op, [...v]]));
  for (const [opset, ops] of Object.entries(LATER)) for (const op of ops) h.set(op, [...(h.get(op) ?? []), Number(opset)]);
  return h;
})();

/** The version of `opType` in a model importing `opset` of the default domain; undefined when the op does not exist there yet. */
export function opVersion(opType: string, opset: number): number | undefined {
  const versions = HISTORY.get(opType);
  if (!versions) return undefined;
  let v: number | undefined;
  for (const since of versions) if (since <= opset) v = since;
  return v;
}

/** The versions in which `opType`'s definition changed (empty for ops ONNX does not define). */
export function opVersions(opType: string): readonly number[] {
  return HISTORY.get(opType) ?? [];
}
