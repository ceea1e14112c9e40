// Print one node's kernel with its lifted literals marked: which sizes a shape-generic kernel reads
// from its uniform.   npx tsx dev/lift-show.ts MODEL.onnx 1,3,48,192 NODE
import { defaultGpu } from '../src/model.js';
import { declaredInputs, importModel } from '../src/onnx/import.js';
import { readModel } from '../src/onnx/source.js';
import { optimizeGraph } from '../src/graph/passes.js';
import { SizedSessions } from '../src/graph/sized.js';
import { inferShapes } from '../src/graph/shapes.js';
const [path, shapeArg, node] = process.argv.slice(2);
const shape = shapeArg.split(',').map(Number);
const gpu = (await defaultGpu())!;
const onnx = await readModel(path);
const declared = declaredInputs(onnx);
const graphFor = (s: Record<string, readonly number[]>) => optimizeGraph(importModel(onnx, { inputShapes: s }));
const sized = new SizedSessions({ declared, graphFor }, gpu);
sized.get({ [declared[0].name]: shape });
const lifts = (sized as unknown as { lifts: import('../src/kernels/uniforms.js').SizeLifts }).lifts;
const ig = inferShapes(graphFor({ [declared[0].name]: shape }));
const r = ig.nodes.find((n) => n.node.name === node)!;
const d = r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, gpu.kernelContext);
if (d !== 'view') console.log(lifts.lift(`${node}#0`, d[0].wgsl).wgsl);
process.exit(0);
