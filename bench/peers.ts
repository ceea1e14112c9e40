// Peer engines that benchmarks run beside deftnn on the same WebGPU adapter, in the same process.
//
// Peers (tfjs-backend-webgpu, onnxruntime-web) find WebGPU through `navigator.gpu`, which Node
// lacks: we give them a Dawn instance from the npm `webgpu` package. Dawn crashes if that instance
// is garbage collected while a device made from it is alive, so it is held here, at module level,
// for the whole run. Gpu.acquire() also takes navigator.gpu when it is set, so a script that calls
// installDawn() first puts deftnn and its peers on one instance and one adapter.

import { register } from 'node:module';
import { create, globals } from 'webgpu';

let dawn: GPU | undefined;

/** Benchmarks that time single kernels with timestamp queries pass it to installDawn(). */
export { PRECISE_TIMESTAMPS } from '../src/device/gpu.js';

/**
 * Install a Dawn instance as `navigator.gpu` (once; later calls return the same instance, and
 * only the first call's `flags`, options of the `webgpu` package's create(), apply).
 */
export function installDawn(flags: readonly string[] = []): GPU {
  if (!dawn) {
    dawn = create([...flags]);
    // Dawn's enums (GPUBufferUsage, GPUShaderStage, ...), which WebGPU code expects as globals.
    Object.assign(globalThis, globals);
    (globalThis as { navigator?: unknown }).navigator = { gpu: dawn };
  }
  return dawn;
}

export type Tfjs = typeof import('@tensorflow/tfjs-core');

/** @tensorflow/tfjs-core on its WebGPU backend, on the Dawn instance of installDawn(). */
export async function tfjsWebgpu(): Promise<Tfjs> {
  installDawn();
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its WebGPU backend');
  await tf.ready();
  return tf;
}

// Resolves tfjs-core's unbundled ESM files (dist/**), whose relative imports have no extension
// and where './gradients' is both a file (gradients.js) and a folder: the file is meant.
const TFJS_DIST_RESOLVER = `export async function resolve(spec, ctx, next) {
  if (ctx.parentURL?.includes('/@tensorflow/tfjs-core/dist/') && /^\\.\\.?\\//.test(spec) && !spec.endsWith('.js')) {
    try { return await next(spec + '.js', ctx); } catch {}
  }
  return next(spec, ctx);
}`;
let gradients = false;

/**
 * Register tfjs's gradient functions, which training needs. The @tensorflow/tfjs umbrella package
 * registers them; tfjs-core's bundles (which `import '@tensorflow/tfjs-core'` loads) do not, and
 * only its unbundled ESM files have them. Loading those brings a second copy of tfjs-core's
 * modules, which is fine: engine, kernel and gradient registries live on globalThis and are
 * shared between copies (as tfjs intends).
 */
export async function registerTfjsGradients(): Promise<void> {
  if (gradients) return;
  register(`data:text/javascript,${encodeURIComponent(TFJS_DIST_RESOLVER)}`);
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  gradients = true;
}
