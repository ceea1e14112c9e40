// deftnn's public API. Re-exports only.

export { DeftnnError, InputError, isDeftnnError } from './errors.js';

export { load, fromGraph, Model, type LoadOptions, type FromGraphOptions, type ModelSource, type Backend } from './model.js';
export { Tensor, sizeOf, type Shape } from './tensor.js';
export { Gpu, GpuError, type AdapterDescription } from './device/gpu.js';
export type { Graph, Node, ValueInfo } from './graph/ir.js';
export { GraphBuilder } from './graph/builder.js';
export { inferShapes, GraphError } from './graph/shapes.js';
export { optimizeGraph, unfuseActivations } from './graph/passes.js';
export { foldAffine, fuseEpilogues, fuseInputScale, unfuseEpilogues } from './graph/fusion.js';
export { CpuSession, GpuSession, type Session, type NodeTiming } from './graph/session.js';
export { buildBackward } from './graph/autograd.js';
export { OPS } from './ops/registry.js';
export { OpError } from './ops/op.js';
export { importModel } from './onnx/import.js';
export { OnnxError } from './onnx/proto.js';
export { exportOnnx } from './onnx/export.js';
export { lenet5 } from './zoo/lenet.js';
export { vggSmall } from './zoo/vgg.js';
export { resnetSmall } from './zoo/resnet.js';
export { loadMnist } from './data/mnist.js';
export { loadFashionMnist } from './data/idx.js';
export { batches, type Dataset } from './data/dataset.js';
export { train, evaluate, trainingGraph, type TrainConfig, type TrainProgress } from './train/trainer.js';
export { appendOptimizer, type OptimizerConfig } from './train/optimizers.js';
export { makeSchedule, type ScheduleConfig } from './train/schedules.js';
export { calibrate, type CalibrationResult } from './sve/calibrate.js';
export { eliminateLayer, planElimination, applyAsZeroRows, applyCompacted, type EliminationPlan } from './sve/eliminate.js';
export { eliminate, type EliminateConfig, type EliminatedModel, type EliminationReport, type FinetuneConfig } from './sve/api.js';
export { FORMATS, defineFormat, getFormat, FormatError, encode, decode, pack as packWords, unpack as unpackWords, quantize, storageBytes, type FloatFormat } from './formats/format.js';
export { pack, bytesMoved, packableValues, type PackOptions, type FormatChoice, type PackReport, type PackedModel, type TensorPacking } from './ndf/pack.js';
export { encodeDeft, decodeDeft, isDeft, DeftError, DEFT_VERSION, type DeftArtifact, type DeftMetadata } from './artifact/deft.js';
export { denseGraph, exportDenseOnnx } from './artifact/dense.js';
export { ocr, readPage, MAX_PIXELS, type OcrOptions, type OcrResult, type OcrLine, type OcrTimings } from './ocr/ocr.js';
export { loadOcrModels, OcrError, type OcrModels, type OcrModelOptions } from './ocr/models.js';
export { ImageError, type Image } from './image/image.js';
export { decodeImage } from './image/decode.js';
