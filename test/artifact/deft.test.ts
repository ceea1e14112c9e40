// The .deft artifact: graph -> file -> graph is the identity (structure, attributes including
// kept_rows, non-finite attribute values, every initializer's bytes, metadata, formats), the file
// re-encodes byte for byte, the decoded model runs exactly as the original on the CPU reference
// (and close to it on WebGPU, through load()), and damaged files get the right clear error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDeft, DEFT_VERSION, DeftError, encodeDeft, isDeft } from '../../src/artifact/deft.js';
import { FORMATS, quantize, type FormatName } from '../../src/formats/format.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { load } from '../../src/model.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { Tensor } from '../../src/tensor.js';
import { lenet5 } from '../../src/zoo/lenet.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';
import { compactByHand } from './compact.js';

const gpu = await testGpu();
const dir = mkdtempSync(join(tmpdir(), 'deftnn-artifact-'));

function assertSameGraph(actual: Graph, expected: Graph): void {
  assert.deepEqual(actual.inputs, expected.inputs);
  assert.deepEqual(actual.outputs, expected.outputs);
  assert.deepEqual(actual.nodes, expected.nodes);
  assert.deepEqual([...actual.initializers.keys()], [...expected.initializers.keys()]);
  for (const [name, t] of expected.initializers) {
    const got = actual.initializers.get(name)!;
    assert.deepEqual(got.shape, t.shape, name);
    assert.deepEqual(new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), `bytes of ${name}`);
  }
}

async function runCpu(graph: Graph, x: Tensor): Promise<Float32Array> {
  return (await new CpuSession(graph).run({ [graph.inputs[0].name]: x }))[graph.outputs[0]].data;
}

test('LeNet-5 (dense and compacted) -> .deft -> graph: identical structure and bytes, same outputs, re-encodes byte for byte', async () => {
  const dense = lenet5({ seed: 3 });
  const { compacted } = compactByHand(dense, rng(4));
  const x = randomTensor([1, 1, 28, 28], rng(5), 0, 1);
  for (const graph of [dense, compacted]) {
    const meta = { producer: 'test', source: 'lenet5', layers: [{ node: 'conv0', rate: 0.4 }] };
    const bytes = await encodeDeft(graph, meta);
    assert.ok(isDeft(bytes));
    assert.equal(bytes.length % 16, 0);
    const back = await decodeDeft(bytes);
    assert.equal(back.version, DEFT_VERSION);
    assert.deepEqual(back.metadata, meta);
    assertSameGraph(back.graph, graph);
    assert.deepEqual(await encodeDeft(back.graph, back.metadata), bytes);
    assert.deepEqual(await runCpu(back.graph, x), await runCpu(graph, x));
  }
  // The compacted layers' tables survive.
  const back = (await decodeDeft(await encodeDeft(compacted))).graph;
  const keptOf = (g: Graph) => g.nodes.filter((n) => n.attrs.kept_rows).map((n) => n.attrs.kept_rows);
  assert.equal(keptOf(back).length, 5);
  assert.deepEqual(keptOf(back), keptOf(compacted));
});

test('attributes of every kind survive, non-finite numbers included; formats and metadata too', async () => {
  const graph: Graph = {
    inputs: [{ name: 'x', shape: [2, 3] }],
    outputs: ['z'],
    nodes: [
      { name: 'clip', op: 'Clip', inputs: ['x'], outputs: ['y'], attrs: { min: -Infinity, max: 6.5 } },
      { name: 'gemm', op: 'Gemm', inputs: ['y', 'w'], outputs: ['z'], attrs: { transB: 1, alpha: 0.25, activation: { op: 'LeakyRelu', attrs: { alpha: 0.1 } } } },
    ],
    initializers: new Map([['w', randomTensor([4, 3], rng(1))], ['empty', new Tensor([0])], ['odd', randomTensor([3], rng(2))]]),
  };
  const withFormats: Graph = { ...graph, formats: new Map([['w', 'bf16'], ['odd', 'e6m5']]) };
  const meta = { producer: 'p', nested: { nan: NaN, list: [1, 'a', null] }, formats: { w: 'bf16' } };
  const back = await decodeDeft(await encodeDeft(withFormats, meta));
  // Weights with a format are stored as its packed words: what comes back is the rounded values.
  const q = (name: string, f: FormatName) => new Tensor(graph.initializers.get(name)!.shape, quantize(FORMATS[f], graph.initializers.get(name)!.data as Float32Array));
  assertSameGraph(back.graph, { ...graph, initializers: new Map([['w', q('w', 'bf16')], ['empty', new Tensor([0])], ['odd', q('odd', 'e6m5')]]) });
  assert.equal(back.graph.nodes[0].attrs.min, -Infinity);
  assert.deepEqual(back.graph.formats, new Map([['w', 'bf16'], ['odd', 'e6m5']]));
  assert.ok(Number.isNaN((back.metadata.nested as { nan: number }).nan));
  assert.deepEqual(back.metadata.formats, { w: 'bf16' });
  const x = randomTensor([2, 3], rng(3), -10, 10);
  assert.deepEqual(await runCpu(back.graph, x), await runCpu(withFormats, x));
});

test('packed weights: stored as their words (a quarter of the bytes for 8-bit formats), the model runs as before; version 1 files still load', async () => {
  const dense = lenet5({ seed: 11 });
  const weights = [...dense.initializers.keys()];
  const x = randomTensor([1, 1, 28, 28], rng(12), 0, 1);
  const plain = await encodeDeft(dense);
  for (const f of ['e4m3', 'e6m5', 'bf16'] as const) {
    const packed: Graph = { ...dense, formats: new Map(weights.map((w) => [w, f])) };
    const bytes = await encodeDeft(packed);
    const floats = [...dense.initializers.values()].reduce((n, t) => n + t.data.length, 0);
    const saved = plain.length - bytes.length;
    // Each tensor is padded to 16 bytes, so the saving is within 16 bytes per tensor of the ideal.
    assert.ok(Math.abs(saved - 4 * floats * (1 - 1 / FORMATS[f].lanes)) <= 16 * weights.length, `${f}: ${saved} bytes saved`);
    const back = await decodeDeft(bytes);
    assert.deepEqual(await encodeDeft(back.graph), bytes, `${f}: re-encodes byte for byte`);
    assert.deepEqual(await runCpu(back.graph, x), await runCpu(packed, x), `${f}: same outputs as the graph it was written from`);
  }
  const resealed = async (b: Uint8Array) => {
    b.set(new Uint8Array(await crypto.subtle.digest('SHA-256', b.subarray(0, b.length - 32) as Uint8Array<ArrayBuffer>)), b.length - 32);
    return b;
  };
  // A dtype this build does not know ("e4m3" turned into "e9m9" in the header) is refused by name.
  const e4m3 = await encodeDeft({ ...dense, formats: new Map(weights.map((w) => [w, 'e4m3'])) });
  const text = new TextDecoder().decode(e4m3.subarray(32, 32 + new DataView(e4m3.buffer).getUint32(12, true)));
  const unknown = e4m3.slice();
  unknown.set(new TextEncoder().encode(text.replaceAll('"dtype":"e4m3"', '"dtype":"e9m9"')), 32);
  await assert.rejects(decodeDeft(await resealed(unknown)), (e: Error) => e instanceof DeftError && e.reason === 'invalid' && /dtype "e9m9"; this build reads float32 and fp32, bf16/.test(e.message));
  // A version-1 file: float32 tensors only, the version field 1 (and the checksum to match).
  const v1 = plain.slice();
  new DataView(v1.buffer).setUint32(8, 1, true);
  await resealed(v1);
  const old = await decodeDeft(v1);
  assert.equal(old.version, 1);
  assertSameGraph(old.graph, dense);
});

test('damaged files: not .deft, truncated, corrupt (checksum), newer version, trailing bytes', async () => {
  const bytes = await encodeDeft(lenet5({ seed: 1 }), { producer: 'test' });
  const fails = async (b: Uint8Array, reason: string, message: RegExp) => {
    await assert.rejects(decodeDeft(b), (e: unknown) => {
      assert.ok(e instanceof DeftError, String(e));
      assert.equal(e.reason, reason);
      assert.match(e.message, message);
      return true;
    });
  };
  await fails(exportOnnx(lenet5()), 'not-deft', /not a \.deft file/);
  await fails(new Uint8Array(0), 'not-deft', /not a \.deft file/);
  await fails(bytes.slice(0, 5), 'truncated', /truncated .* 5 bytes/);
  await fails(bytes.slice(0, 20), 'truncated', /truncated/);
  await fails(bytes.slice(0, bytes.length - 1), 'truncated', /truncated .*cut short/);
  await fails(bytes.slice(0, bytes.length >> 1), 'truncated', /truncated/);
  for (const at of [30, bytes.length >> 1, bytes.length - 40, bytes.length - 1]) {
    const bad = bytes.slice();
    bad[at] ^= 0x10;
    await fails(bad, 'corrupt', /corrupt .*checksum/);
  }
  const newer = bytes.slice();
  new DataView(newer.buffer).setUint32(8, DEFT_VERSION + 1, true);
  await fails(newer, 'version', new RegExp(`version ${DEFT_VERSION + 1}.*reads versions up to ${DEFT_VERSION}: upgrade deftnn`));
  const longer = new Uint8Array(bytes.length + 16);
  longer.set(bytes);
  await fails(longer, 'corrupt', /16 unexpected bytes/);
  // load() gives the same errors.
  const path = join(dir, 'cut.deft');
  writeFileSync(path, bytes.slice(0, 100));
  await assert.rejects(load(path, { backend: 'cpu' }), /truncated \.deft file/);
});

test('load() reads .deft from a path (by extension or magic), bytes and with other input shapes; WebGPU matches the CPU', async () => {
  const graph = lenet5({ seed: 7 });
  const bytes = await encodeDeft(graph);
  const path = join(dir, 'lenet.deft');
  const noExt = join(dir, 'lenet.bin');
  writeFileSync(path, bytes);
  writeFileSync(noExt, bytes);
  const x = randomTensor([1, 1, 28, 28], rng(8), 0, 1);
  const want = await runCpu(graph, x);
  for (const source of [path, noExt, readFileSync(path), bytes.buffer.slice(0) as ArrayBuffer]) {
    const m = await load(source, { backend: 'cpu' });
    assert.deepEqual((await m.run({ input: x }))[graph.outputs[0]].data, want);
  }
  const batched = await load(path, { backend: 'cpu', inputShapes: { input: [3, 1, 28, 28] } });
  assert.deepEqual(batched.inputs[0].shape, [3, 1, 28, 28]);
  await assert.rejects(load(path, { backend: 'cpu', inputShapes: { nope: [1] } }), /'nope', which is not an input/);
  if (gpu) {
    const { compacted } = compactByHand(graph, rng(9));
    const m = await load(await encodeDeft(compacted), { backend: 'webgpu', gpu });
    const out = (await m.run({ input: x }))[graph.outputs[0]];
    assertClose(out, new Tensor(out.shape, await runCpu(compacted, x)), { atol: 1e-5, rtol: 1e-4 }, 'compacted LeNet-5 from .deft, WebGPU vs CPU');
    m.dispose();
  }
});
