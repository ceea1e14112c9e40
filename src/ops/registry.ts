// Every op deftnn runs, looked up by ONNX op_type. One line per op file.

import { OpError, type OpDef } from './op.js';
import { unaryOps } from './unary.js';
import { poolOps } from './pool.js';
import { binaryOps } from './binary.js';
import { hardmaxOp, logSoftmaxOp, softmaxOp } from './softmax.js';
import { batchNormOp, batchNormGradOp } from './batchnorm.js';
import { reshapeOps } from './reshape.js';
import { transposeOp } from './transpose.js';
import { concatOp } from './concat.js';
import { reduceOps } from './reduce.js';
import { convOps } from './conv.js';
import { convGradOps } from './convgrad.js';
import { gemmOps } from './gemm.js';
import { padOp } from './pad.js';
import { sliceOps } from './slice.js';
import { resizeOps } from './resize.js';
import { convTransposeOp } from './convtranspose.js';
import { lrnOp } from './lrn.js';
import { variadicOps } from './variadic.js';
import { normalizationOps } from './normalization.js';
import { gridSampleOp } from './gridsample.js';
import { lossOps } from '../train/losses.js';
import { optimizerOps } from '../train/optimizers.js';

const ALL: OpDef<any>[] = [...unaryOps, ...poolOps, ...binaryOps, softmaxOp, logSoftmaxOp, hardmaxOp, batchNormOp, batchNormGradOp, ...reshapeOps, transposeOp, concatOp, ...reduceOps, padOp, ...sliceOps, ...convOps, ...convGradOps, ...gemmOps, ...resizeOps, convTransposeOp, lrnOp, ...variadicOps, ...normalizationOps, gridSampleOp, ...lossOps, ...optimizerOps];

export const OPS: ReadonlyMap<string, OpDef<any>> = new Map(ALL.map((op) => [op.type, op]));

export function getOp(type: string): OpDef<any> {
  const op = OPS.get(type);
  if (!op) throw new OpError(`unsupported op type '${type}'`);
  return op;
}
