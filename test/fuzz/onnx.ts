// Structured mutations of ONNX models: decode with the importer's own schema (protobufjs), change
// what a byte flip rarely reaches (dims, dtypes, attributes, the graph's wiring, opsets, external
// data), encode again. Each mutation returns a description, or null when the model has nothing it
// applies to (the caller then picks another).

import { ModelProto } from '../../src/onnx/proto.js';
import { int, pick, type Rand } from './random.js';

/** Extra files a case needs next to the model (external data); the model is then loaded from a path. */
export type CaseFiles = Record<string, Uint8Array>;

interface Ctx {
  readonly m: any;
  readonly g: any;
  readonly rand: Rand;
  readonly files: CaseFiles;
}

const HUGE = [2 ** 31, 2 ** 38, 1e12, 2 ** 53 - 1];
const BAD_DIMS = [0, -1, -7, ...HUGE, 3, 100000];
// AttributeProto types: FLOAT 1, INT 2, STRING 3, TENSOR 4, GRAPH 5, FLOATS 6, INTS 7, STRINGS 8, SPARSE_TENSOR 11
const ATTR_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 42];
const OP_TYPES = ['Conv', 'Relu', 'Gemm', 'MatMul', 'Reshape', 'Softmax', 'Add', 'Mul', 'Concat', 'Transpose', 'Slice', 'Resize', 'Pad', 'MaxPool', 'AveragePool', 'BatchNormalization', 'Flatten', 'GlobalAveragePool', 'Expand', 'ConstantOfShape', 'Range', 'Tile', 'Gather', 'Identity', 'Loop', 'If', 'Foo', '', 'Clip', 'HardSigmoid', 'Sigmoid', 'ReduceMean', 'Squeeze', 'Unsqueeze', 'Split', 'Shape', 'Cast', 'Div', 'Sub', 'ConvTranspose', 'LRN', 'Dropout'];
const ATTR_NAMES = ['axis', 'axes', 'perm', 'strides', 'kernel_shape', 'pads', 'dilations', 'group', 'transA', 'transB', 'alpha', 'beta', 'epsilon', 'mode', 'auto_pad', 'ceil_mode', 'keepdims', 'to', 'value', 'size', 'min', 'max', 'output_padding', 'split'];

const inputs = (c: Ctx) => c.g.input.filter((v: any) => !c.g.initializer.some((t: any) => t.name === v.name));
const values = (c: Ctx): string[] => [...inputs(c).map((v: any) => v.name), ...c.g.initializer.map((t: any) => t.name), ...c.g.node.flatMap((n: any) => n.output)];
const nodesWith = (c: Ctx, f: (n: any) => boolean) => c.g.node.filter(f);

/** Every tensor of the model: initializers and Constant nodes' value attributes. */
function tensors(c: Ctx): any[] {
  const out = [...c.g.initializer];
  for (const n of c.g.node) for (const a of n.attribute) if (a.t) out.push(a.t);
  return out;
}

const MUTATIONS: Record<string, (c: Ctx) => string | null> = {
  inputDim(c) {
    const v = pick(c.rand, inputs(c)) as any;
    const dims = v?.type?.tensor_type?.shape?.dim;
    if (!dims?.length) return null;
    const k = int(c.rand, 0, dims.length - 1);
    const d = pick(c.rand, [...BAD_DIMS, int(c.rand, 1, 64)]);
    dims[k] = { dim_value: d };
    return `input '${v.name}' dim ${k} = ${d}`;
  },
  inputRank(c) {
    const v = pick(c.rand, inputs(c)) as any;
    const shape = v?.type?.tensor_type?.shape;
    if (!shape) return null;
    if (c.rand() < 0.5) shape.dim.pop();
    else shape.dim.push({ dim_value: int(c.rand, 1, 4) });
    return `input '${v.name}' rank changed to ${shape.dim.length}`;
  },
  inputType(c) {
    const v = pick(c.rand, inputs(c)) as any;
    if (!v?.type?.tensor_type) return null;
    v.type.tensor_type.elem_type = pick(c.rand, [0, 2, 7, 8, 10, 11, 99]);
    return `input '${v.name}' elem_type ${v.type.tensor_type.elem_type}`;
  },
  tensorDims(c) {
    const t = pick(c.rand, tensors(c));
    if (!t) return null;
    const r = c.rand();
    if (r < 0.2) t.dims.push(int(c.rand, 1, 3));
    else if (r < 0.3 && t.dims.length) t.dims.pop();
    else if (t.dims.length) t.dims[int(c.rand, 0, t.dims.length - 1)] = pick(c.rand, [...BAD_DIMS, 2]);
    else t.dims = [pick(c.rand, BAD_DIMS)];
    return `tensor '${t.name}' dims [${t.dims.join(', ')}]`;
  },
  tensorDtype(c) {
    const t = pick(c.rand, tensors(c));
    if (!t) return null;
    t.data_type = pick(c.rand, [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 16, 99]);
    return `tensor '${t.name}' data_type ${t.data_type}`;
  },
  tensorData(c) {
    const t = pick(c.rand, tensors(c));
    if (!t) return null;
    if (t.raw_data?.length) {
      const cut = int(c.rand, 0, t.raw_data.length);
      t.raw_data = t.raw_data.slice(0, cut);
      return `tensor '${t.name}' raw_data cut to ${cut} bytes`;
    }
    t.float_data = [1, 2, 3];
    t.int64_data = [];
    return `tensor '${t.name}' typed data replaced by 3 floats`;
  },
  initializerDrop(c) {
    if (!c.g.initializer.length) return null;
    const k = int(c.rand, 0, c.g.initializer.length - 1);
    const name = c.g.initializer[k].name;
    c.g.initializer.splice(k, 1);
    return `initializer '${name}' removed`;
  },
  externalData(c) {
    const t = pick(c.rand, c.g.initializer) as any;
    if (!t) return null;
    const r = c.rand();
    const file = Uint8Array.from({ length: 64 }, (_, i) => i);
    c.files['weights.bin'] = file;
    t.raw_data = new Uint8Array(0);
    t.data_location = 1;
    let kv: Record<string, string> = { location: 'weights.bin' };
    let what: string;
    if (r < 0.3) {
      t.dims = pick(c.rand, [[2 ** 38], [2 ** 19, 2 ** 19], [4, 4]]);
      what = `dims [${t.dims}] in 64 bytes of external data`;
    } else if (r < 0.5) {
      kv = { location: pick(c.rand, ['../weights.bin', '/etc/passwd', 'C:\\w.bin', 'missing.bin', 'a/../../b', '']) };
      what = `external location '${kv.location}'`;
    } else if (r < 0.75) {
      kv = { location: 'weights.bin', offset: String(pick(c.rand, [-1, 63, 64, 2 ** 40, 1.5, 'x'])) };
      what = `external offset ${kv.offset}`;
    } else {
      kv = { location: 'weights.bin', length: String(pick(c.rand, [-1, 0, 63, 2 ** 40, 'x'])) };
      what = `external length ${kv.length}`;
    }
    t.external_data = Object.entries(kv).map(([key, value]) => ({ key, value }));
    return `initializer '${t.name}': ${what}`;
  },
  attrValue(c) {
    const n = pick(c.rand, nodesWith(c, (n) => n.attribute.some((a: any) => a.ints?.length || a.type === 2))) as any;
    if (!n) return null;
    const a = pick(c.rand, n.attribute.filter((a: any) => a.ints?.length || a.type === 2)) as any;
    const v = pick(c.rand, [0, -1, -3, 2 ** 31, 1e9, 99, 7]);
    if (a.ints?.length) {
      if (c.rand() < 0.3) a.ints = c.rand() < 0.5 ? a.ints.slice(1) : [...a.ints, v];
      else a.ints[int(c.rand, 0, a.ints.length - 1)] = v;
      return `node '${n.name}' (${n.op_type}) ${a.name} = [${a.ints.join(', ')}]`;
    }
    a.i = v;
    return `node '${n.name}' (${n.op_type}) ${a.name} = ${v}`;
  },
  convAttr(c) {
    const n = pick(c.rand, nodesWith(c, (n) => ['Conv', 'MaxPool', 'AveragePool', 'ConvTranspose'].includes(n.op_type))) as any;
    if (!n) return null;
    const [name, value] = pick(c.rand, [
      ['strides', [0, 0]],
      ['strides', [1, 0]],
      ['kernel_shape', [999, 999]],
      ['kernel_shape', [0, 3]],
      ['group', pick(c.rand, [0, -1, 3, 7, 1e6])],
      ['pads', [-3, -3, -3, -3]],
      ['pads', [1e6, 0, 0, 0]],
      ['pads', [1, 1]],
      ['dilations', [0, 1]],
      ['dilations', [500, 500]],
      ['auto_pad', 'SAME_WRONG'],
      ['auto_pad', 'VALID'],
    ] as [string, number | number[] | string][]);
    n.attribute = n.attribute.filter((a: any) => a.name !== name);
    if (typeof value === 'string') n.attribute.push({ name, type: 3, s: new TextEncoder().encode(value) });
    else if (Array.isArray(value)) n.attribute.push({ name, type: 7, ints: value });
    else n.attribute.push({ name, type: 2, i: value });
    return `node '${n.name}' (${n.op_type}) ${name} = ${JSON.stringify(value)}`;
  },
  attrAdd(c) {
    const n = pick(c.rand, c.g.node) as any;
    if (!n) return null;
    const name = pick(c.rand, ATTR_NAMES);
    const v = pick(c.rand, [{ type: 2, i: pick(c.rand, [0, -1, 99, 2 ** 40]) }, { type: 7, ints: [5, 0, -2] }, { type: 1, f: pick(c.rand, [NaN, Infinity, -1e30, 0]) }, { type: 3, s: new TextEncoder().encode('bogus') }, { type: 6, floats: [] }]);
    n.attribute = n.attribute.filter((a: any) => a.name !== name);
    n.attribute.push({ name, ...v });
    return `node '${n.name}' (${n.op_type}) attribute ${name} = ${JSON.stringify(v)}`;
  },
  attrType(c) {
    const n = pick(c.rand, nodesWith(c, (n) => n.attribute.length > 0)) as any;
    if (!n) return null;
    const a = pick(c.rand, n.attribute) as any;
    a.type = pick(c.rand, ATTR_TYPES);
    return `node '${n.name}' (${n.op_type}) attribute ${a.name} type ${a.type}`;
  },
  cycle(c) {
    const k = int(c.rand, 0, c.g.node.length - 1);
    const n = c.g.node[k];
    const later = c.g.node.slice(k).flatMap((m: any) => m.output);
    if (!n?.input.length || !later.length) return null;
    const i = int(c.rand, 0, n.input.length - 1);
    n.input[i] = pick(c.rand, later);
    return `node '${n.name}' input ${i} reads '${n.input[i]}' (its own or a later node's output: a cycle)`;
  },
  undefinedInput(c) {
    const n = pick(c.rand, c.g.node) as any;
    if (!n?.input.length) return null;
    const i = int(c.rand, 0, n.input.length - 1);
    n.input[i] = `undefined_${int(c.rand, 0, 999)}`;
    return `node '${n.name}' input ${i} reads an undefined tensor`;
  },
  inputCount(c) {
    const n = pick(c.rand, c.g.node) as any;
    if (!n) return null;
    if (c.rand() < 0.5 && n.input.length) n.input.pop();
    else n.input.push(pick(c.rand, [...values(c), '']));
    return `node '${n.name}' (${n.op_type}) has ${n.input.length} inputs`;
  },
  outputCount(c) {
    const n = pick(c.rand, c.g.node) as any;
    if (!n) return null;
    if (c.rand() < 0.5) n.output.push(`extra_${int(c.rand, 0, 99)}`);
    else n.output = [];
    return `node '${n.name}' (${n.op_type}) has ${n.output.length} outputs`;
  },
  opType(c) {
    const n = pick(c.rand, c.g.node) as any;
    if (!n) return null;
    const was = n.op_type;
    n.op_type = pick(c.rand, OP_TYPES);
    if (c.rand() < 0.1) n.domain = pick(c.rand, ['com.microsoft', 'ai.onnx.ml', 'ai.onnx']);
    return `node '${n.name}' op ${was} -> ${n.op_type}${n.domain ? ` (domain ${n.domain})` : ''}`;
  },
  nodeOrder(c) {
    if (c.g.node.length < 2) return null;
    const r = c.rand();
    const k = int(c.rand, 0, c.g.node.length - 1);
    if (r < 0.35) {
      c.g.node.splice(k, 1);
      return `node ${k} removed`;
    }
    if (r < 0.6) {
      c.g.node.splice(k, 0, c.g.node[k]);
      return `node ${k} duplicated`;
    }
    const j = int(c.rand, 0, c.g.node.length - 1);
    [c.g.node[k], c.g.node[j]] = [c.g.node[j], c.g.node[k]];
    return `nodes ${k} and ${j} swapped`;
  },
  graphOutputs(c) {
    const r = c.rand();
    if (r < 0.3) c.g.output = [];
    else if (r < 0.6 && c.g.output.length) c.g.output[0].name = pick(c.rand, ['nowhere', ...values(c)]);
    else c.g.output.push({ name: pick(c.rand, values(c)) });
    return `graph outputs [${c.g.output.map((o: any) => o.name).join(', ')}]`;
  },
  opset(c) {
    const r = c.rand();
    if (r < 0.3) {
      c.m.opset_import = [];
      return 'opset_import removed';
    }
    if (r < 0.45) {
      c.m.opset_import = [{ domain: 'com.example', version: 1 }];
      return 'opset_import names only another domain';
    }
    const v = pick(c.rand, [0, -1, 1, 6, 8, 22, 23, 1000, 2 ** 40]);
    for (const o of c.m.opset_import) o.version = v;
    return `opset version ${v}`;
  },
  irVersion(c) {
    c.m.ir_version = pick(c.rand, [0, -1, 1, 3, 99, 2 ** 40]);
    return `ir_version ${c.m.ir_version}`;
  },
  shapeInput(c) {
    // A Reshape/Expand/Tile/Slice/Pad/Resize input that is a constant: give it absurd values.
    const n = pick(c.rand, nodesWith(c, (n) => ['Reshape', 'Expand', 'Tile', 'Slice', 'Pad', 'Resize', 'ConstantOfShape', 'Range'].includes(n.op_type) && n.input.length > 1)) as any;
    if (!n) return null;
    const k = int(c.rand, 1, n.input.length - 1);
    const vals = pick(c.rand, [[0, -1], [-1, -1], [0, 7, 99999], [2 ** 40], [30000, 30000], [-5], [1, 1, 1, 1, 1, 1, 1, 1]]);
    const name = `fuzz_const_${k}`;
    c.g.node.unshift({ name, op_type: 'Constant', input: [], output: [name], attribute: [{ name: 'value', type: 4, t: { dims: [vals.length], data_type: 7, int64_data: vals } }] });
    n.input[k] = name;
    return `node '${n.name}' (${n.op_type}) input ${k} = [${vals.join(', ')}]`;
  },
};

export const ONNX_MUTATIONS = Object.keys(MUTATIONS);

/** Apply one structured mutation chosen by `rand` (another when it does not apply). */
export function mutateOnnx(bytes: Uint8Array, rand: Rand): { bytes: Uint8Array; what: string; files: CaseFiles } {
  const type = ModelProto();
  for (let attempt = 0; attempt < 20; attempt++) {
    const m: any = type.decode(bytes);
    const files: CaseFiles = {};
    const name = pick(rand, ONNX_MUTATIONS);
    const what = MUTATIONS[name]({ m, g: m.graph, rand, files });
    if (what === null) continue;
    return { bytes: type.encode(m).finish(), what: `${name}: ${what}`, files };
  }
  return { bytes, what: 'unchanged (no mutation applied)', files: {} };
}
