// Every op deftnn runs, looked up by ONNX op_type. One line per op file.

import type { OpDef } from './op.js';
import { unaryOps } from './unary.js';

const ALL: OpDef<any>[] = [...unaryOps];

export const OPS: ReadonlyMap<string, OpDef<any>> = new Map(ALL.map((op) => [op.type, op]));

export function getOp(type: string): OpDef<any> {
  const op = OPS.get(type);
  if (!op) throw new Error(`unsupported op type '${type}'`);
  return op;
}
