// Shared helpers for the dev/gemm-* experiments: our device, tfjs-backend-webgpu on the same
// adapter, and a timer that runs a WGSL kernel `iters` times in one submission.
import { create } from 'webgpu';
import { Gpu } from '../src/device/gpu.js';

export const gpu = (await Gpu.acquire())!;
// tfjs makes its own device from navigator.gpu; the instance must stay referenced.
const tfInstance = create([]);
(globalThis as any).navigator = { gpu: tfInstance };
(globalThis as any).__keep = tfInstance;
export const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
await tf.setBackend('webgpu');
await tf.ready();

export function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

/** ms per dispatch of `wgsl`, `iters` dispatches in one pass plus one read-back of output. */
export async function timeWgsl(wgsl: string, buffers: GPUBuffer[], wg: readonly [number, number, number], iters: number, outBytes: number, outIdx: number): Promise<number> {
  const prep = gpu.prepare(wgsl, buffers);
  const steps = Array.from({ length: iters }, () => ({ ...prep, workgroups: wg }));
  const t0 = performance.now();
  await gpu.execute(steps, [{ buffer: buffers[outIdx], bytes: outBytes }]);
  return (performance.now() - t0) / iters;
}

export async function timeTf(f: () => any, iters: number): Promise<number> {
  const t0 = performance.now();
  let last: any;
  for (let i = 0; i < iters; i++) {
    if (last) last.dispose();
    last = f();
  }
  await last.data();
  last.dispose();
  return (performance.now() - t0) / iters;
}

export function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}
