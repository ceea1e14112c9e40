// Device loss: a WebGPU device that is destroyed or lost under a loaded model turns that model's
// next run() into a GpuError that says so (no hang, no crash), and the next load() acquires a new
// device that works and agrees with the CPU reference.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GpuError } from '../../src/device/gpu.js';
import { load } from '../../src/model.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const feeds = () => {
  const rand = rng(7);
  return { input: new Tensor([1, 1, 28, 28], Float32Array.from({ length: 784 }, () => rand())) };
};

/** Settles within `ms` or fails the test: a lost device must never turn into a hang. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms: a hang`)), ms).unref())]);
}

for (const how of ['GPUDevice.destroy() (the device goes away under the engine)', 'Gpu.destroy() (the engine gives it up)'] as const) {
  test(`after ${how}, run() throws a clear GpuError and the next load() gets a new device`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const expected = await (await load('zoo/lenet5.onnx', { backend: 'cpu' })).run(feeds());
    const m1 = await load('zoo/lenet5.onnx', { backend: 'webgpu' });
    assertClose((await m1.run(feeds())).softmax0_out, expected.softmax0_out, { atol: 1e-5 }, 'before the loss');
    const lost = m1.gpu!;
    if (how.startsWith('GPUDevice')) lost.device.destroy();
    else lost.destroy();
    await assert.rejects(within(m1.run(feeds()), 20_000), (e: unknown) => {
      assert.ok(e instanceof GpuError, `a GpuError, got ${e}`);
      assert.match(e.message, /device lost .*load the model again/);
      return true;
    });
    assert.equal(lost.lost, true);
    // Still an error (not a hang, not a different failure) when asked again.
    await assert.rejects(within(m1.run(feeds()), 20_000), GpuError);
    const m2 = await load('zoo/lenet5.onnx', { backend: 'webgpu' });
    assert.notEqual(m2.gpu, lost, 'load() acquired a new device');
    assert.equal(m2.gpu!.lost, false);
    assertClose((await m2.run(feeds())).softmax0_out, expected.softmax0_out, { atol: 1e-5 }, 'on the new device');
    m1.dispose();
    m2.dispose();
  });
}

test('race() keeps nothing per call (the soak run found ~300 bytes of heap kept by each, through one long-lived promise)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = async (calls: number) => {
    for (let i = 0; i < calls; i++) await gpu!.race(Promise.resolve(i));
    gc();
    return process.memoryUsage().heapUsed;
  };
  const before = await heap(1000);
  const after = await heap(50_000);
  // The leak kept ~300 bytes a call (~14 MB here); other live objects of the test process move the
  // heap by about a megabyte between samples, so the line is drawn at 5 MB.
  assert.ok(after - before < 5 * 2 ** 20, `heap grew by ${((after - before) / 2 ** 20).toFixed(1)} MB over 50,000 race() calls`);
});
