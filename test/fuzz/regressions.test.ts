// One test per problem the fuzzer (scripts/fuzz.ts) or the issue found: each input now gets a
// deftnn error that names what is wrong, decided before anything large is allocated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DeftError } from '../../src/artifact/deft.js';
import { DeftnnError, MAX_TENSOR_ELEMENTS } from '../../src/errors.js';
import { GraphError } from '../../src/graph/shapes.js';
import { decodeImage } from '../../src/image/decode.js';
import { ImageError } from '../../src/image/image.js';
import { load } from '../../src/model.js';
import { MAX_IR_VERSION, ModelProto, OnnxError } from '../../src/onnx/proto.js';
import { buildModel, f32, i64, type ModelSpec } from '../onnx/build.js';
import { openDeft, sealDeft } from './deft.js';
import { readFileSync } from 'node:fs';

const conv: ModelSpec = {
  inputs: [{ name: 'x', dims: [1, 1, 6, 6] }],
  outputs: ['y'],
  nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'conv' }],
  initializers: { w: f32([2, 1, 3, 3], new Array(18).fill(0.5)) },
};

/** Rejects with a DeftnnError of `type` whose message matches `re`. */
async function rejectsWith(p: Promise<unknown>, type: new (...a: any[]) => DeftnnError, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

test('issue 20: an initializer declaring 2^38 elements of external data names the tensor and its size (was RangeError: Invalid typed array length)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-bomb-'));
  writeFileSync(join(dir, 'weights.bin'), new Uint8Array(64));
  const spec = { ...conv, initializers: { w: { dtype: 'float32' as const, dims: [2 ** 38], external: { location: 'weights.bin' } } } };
  writeFileSync(join(dir, 'model.onnx'), buildModel(spec));
  await rejectsWith(load(join(dir, 'model.onnx'), { backend: 'cpu' }), OnnxError, new RegExp(`initializer 'w' declares shape \\[${2 ** 38}\\] = ${2 ** 38} elements, more than deftnn's limit of ${MAX_TENSOR_ELEMENTS}`));
  // Within the limit but more than the file holds: the file's bytes are read, never the declared size.
  const short = { ...conv, initializers: { w: { dtype: 'float32' as const, dims: [2, 1, 3, 3], external: { location: 'weights.bin', offset: 8 } } } };
  writeFileSync(join(dir, 'model.onnx'), buildModel(short));
  await rejectsWith(load(join(dir, 'model.onnx'), { backend: 'cpu' }), OnnxError, /initializer 'w': its data has 56 bytes, but shape \[2, 1, 3, 3\] of float32 needs 72/);
  const length = { ...conv, initializers: { w: { dtype: 'float32' as const, dims: [2, 1, 3, 3], external: { location: 'weights.bin', length: 2 ** 40 } } } };
  writeFileSync(join(dir, 'model.onnx'), buildModel(length));
  await rejectsWith(load(join(dir, 'model.onnx'), { backend: 'cpu' }), OnnxError, /initializer 'w': its external data is 1099511627776 bytes long \('weights.bin'\), but its shape and element type need 72/);
});

test('huge dims in raw data, in an input, and from a fold are refused by size before allocating', async () => {
  const raw = { ...conv, initializers: { w: f32([2 ** 20, 2 ** 20], [1, 2, 3]) } };
  await rejectsWith(load(buildModel(raw), { backend: 'cpu' }), OnnxError, /initializer 'w' declares shape \[1048576, 1048576\]/);
  const input = { ...conv, inputs: [{ name: 'x', dims: [1, 1, 2 ** 20, 2 ** 20] }] };
  await rejectsWith(load(buildModel(input), { backend: 'cpu' }), OnnxError, /input 'x' has shape \[1, 1, 1048576, 1048576\].*limit/);
  // Expand of a constant to 30,000 x 30,000 (7 GB as a JS array) from a 16-byte shape.
  const expand: ModelSpec = {
    inputs: [{ name: 'x', dims: [1] }],
    outputs: ['y'],
    nodes: [
      { op: 'Expand', inputs: ['one', 'shape'], outputs: ['big'], name: 'expand' },
      { op: 'Add', inputs: ['x', 'big'], outputs: ['y'] },
    ],
    initializers: { one: f32([1], [1]), shape: i64([30000, 30000]) },
  };
  await rejectsWith(load(buildModel(expand), { backend: 'cpu' }), OnnxError, /node 'expand' \(Expand, version 13\): its output would have shape \[30000, 30000\] = 900000000 elements, more than deftnn folds/);
});

test('fuzz model s1 #42: an attribute typed TENSOR that holds none names the node and attribute (was TypeError)', async () => {
  const m: any = ModelProto().decode(buildModel(conv));
  m.graph.node[0].attribute.push({ name: 'strides', type: 4 });
  await rejectsWith(load(ModelProto().encode(m).finish(), { backend: 'cpu' }), OnnxError, /node 'conv' \(Conv\) attribute 'strides' has type TENSOR but holds no tensor/);
});

test('ir_version outside what ONNX releases write (0, negative, 2^40) is refused naming it; 1 to MAX_IR_VERSION load', async () => {
  for (const ir of [0, -1, MAX_IR_VERSION + 1, 2 ** 40]) {
    await rejectsWith(load(buildModel({ ...conv, irVersion: ir }), { backend: 'cpu' }), OnnxError, new RegExp(`ir_version ${ir} \\(ONNX releases so far write 1 to ${MAX_IR_VERSION}`));
  }
  for (const ir of [3, MAX_IR_VERSION]) (await load(buildModel({ ...conv, irVersion: ir }), { backend: 'cpu' })).dispose();
});

test('fuzz model s2026 #80: a model whose graph declares no outputs is refused (was: loaded as an empty model)', async () => {
  const m: any = ModelProto().decode(buildModel(conv));
  m.graph.output = [];
  await rejectsWith(load(ModelProto().encode(m).finish(), { backend: 'cpu' }), GraphError, /the graph declares no outputs/);
  const { header, data } = openDeft(new Uint8Array(readFileSync('zoo/lenet5.deft')));
  header.graph.outputs = [];
  await rejectsWith(load(sealDeft(new TextEncoder().encode(JSON.stringify(header)), data), { backend: 'cpu' }), DeftnnError, /declares no outputs/);
});

/** A PNG whose IHDR says width x height, its CRC fixed so a decoder would believe it. */
function pngDeclaring(width: number, height: number): Uint8Array {
  const b = new Uint8Array(PNG.sync.write(new PNG({ width: 2, height: 2 })));
  const v = new DataView(b.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  v.setUint32(29, crc32(b.subarray(12, 29)));
  return b;
}

test('images whose header declares 100,000 x 100,000 pixels are refused from the header, before decoding', () => {
  const t0 = performance.now();
  assert.throws(() => decodeImage(pngDeclaring(100000, 100000), 'bomb.png'), (e: unknown) => e instanceof ImageError && /bomb\.png declares 100000 x 100000 pixels, more than deftnn decodes \(100 megapixels\)/.test(e.message));
  assert.throws(() => decodeImage(pngDeclaring(0, 5), 'empty.png'), /empty.png declares 0 x 5 pixels/);
  const jpg = new Uint8Array(jpeg.encode({ width: 4, height: 4, data: Buffer.alloc(64, 128) }, 80).data);
  // SOF0: FF C0, length, precision, height, width
  const sof = jpg.findIndex((x, i) => x === 0xff && jpg[i + 1] === 0xc0);
  new DataView(jpg.buffer).setUint16(sof + 5, 65535);
  new DataView(jpg.buffer).setUint16(sof + 7, 65535);
  assert.throws(() => decodeImage(jpg, 'bomb.jpg'), /bomb\.jpg declares 65535 x 65535 pixels/);
  assert.ok(performance.now() - t0 < 1000, 'refused without decoding');
  // Within the limit, the decoders still run.
  assert.equal(decodeImage(new Uint8Array(PNG.sync.write(new PNG({ width: 3, height: 2 }))), 'ok.png').width, 3);
});

test('.deft headers with wrong types or sizes, re-sealed so the checksum passes, get a DeftError naming the part', async () => {
  const file = new Uint8Array(readFileSync('zoo/lenet5.deft'));
  const { header, data } = openDeft(file);
  const reseal = (h: unknown) => sealDeft(new TextEncoder().encode(JSON.stringify(h)), data);
  const h1 = structuredClone(header);
  h1.graph.inputs[0].shape = 'x';
  await rejectsWith(load(reseal(h1), { backend: 'cpu' }), DeftError, /graph input .* is not \{ name, shape: positive integers \}/);
  const h2 = structuredClone(header);
  h2.tensors[0].shape = [2 ** 38];
  await rejectsWith(load(reseal(h2), { backend: 'cpu' }), DeftError, new RegExp(`tensor '${header.tensors[0].name}' has shape \\[${2 ** 38}\\]`));
  const h3 = structuredClone(header);
  h3.graph.nodes[0].inputs = null;
  await rejectsWith(load(reseal(h3), { backend: 'cpu' }), DeftError, /node .* is not \{ name, op, inputs, outputs, attrs \}/);
  const h4 = structuredClone(header);
  h4.graph.nodes[0].op = 'Foo';
  await rejectsWith(load(reseal(h4), { backend: 'cpu' }), GraphError, new RegExp(`node '${header.graph.nodes[0].name}': unsupported op type 'Foo'`));
});

test('fuzz model s2 #247: a STRING-typed attribute with no bytes is read as "" and the op names it (was TypeError from TextDecoder)', async () => {
  const m: any = ModelProto().decode(buildModel({ ...conv, nodes: [{ ...conv.nodes[0], attrs: { group: 1 } }] }));
  m.graph.node[0].attribute[0].type = 3;
  await rejectsWith(load(ModelProto().encode(m).finish(), { backend: 'cpu' }), OnnxError, /node 'conv' \(Conv, version 11\).*attribute 'group' must be an integer, got ""/);
});

test('fuzz artifact s2 #25, #32: a fused activation that is null, unknown or without attrs is a GraphError naming the node (was TypeError at run time)', async () => {
  const { header, data } = openDeft(new Uint8Array(readFileSync('zoo/lenet5.deft')));
  const node = header.graph.nodes.findIndex((n: any) => n.op === 'Conv');
  for (const [activation, re] of [
    [null, /attribute 'activation' must be \{op, attrs\}, got null/],
    [{ op: 'Foo', attrs: {} }, /fused activation "Foo": Foo is not an elementwise unary op/],
    [{ op: 'constructor', attrs: {} }, /fused activation "constructor"/],
    [{ op: 'Relu' }, /attribute 'activation' must be \{op, attrs\}/],
    [{ op: 'LeakyRelu', attrs: { alpha: 'x' } }, /fused activation "LeakyRelu": attribute 'alpha' must be/],
  ] as const) {
    const h = structuredClone(header);
    h.graph.nodes[node].attrs.activation = activation;
    await rejectsWith(load(sealDeft(new TextEncoder().encode(JSON.stringify(h)), data), { backend: 'cpu' }), GraphError, new RegExp(`node '${header.graph.nodes[node].name}' \\(Conv.*${re.source}`));
  }
});

test('fuzz image s2 #596: a damaged JPEG that trips jpeg-js inside is reported as corrupt, naming the file (was the decoder\'s TypeError text)', async () => {
  const bytes = new Uint8Array(readFileSync(new URL('./cases/image-s2-596.jpg', import.meta.url)));
  assert.throws(() => decodeImage(bytes, 'photo.jpg'), (e: unknown) => {
    assert.ok(e instanceof ImageError);
    assert.equal(e.message, 'cannot decode image photo.jpg: its JPEG data is corrupt or truncated (the decoder stopped at data that does not fit the format)');
    assert.ok((e as Error).cause instanceof TypeError, 'the decoder\'s own error is kept as the cause');
    return true;
  });
});
