// What a kernel builder is given and what it returns, below every op: the device's limits and
// features (KernelContext) and a recorded dispatch with its bindings. src/kernels/ and
// src/formats/ build WGSL from these without knowing about ops; src/device/ supplies the context.

/** What a kernel builder may know about the device: limits and optional features, nothing else. */
export interface KernelContext {
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly subgroups: boolean;
  readonly shaderF16: boolean;
  /**
   * A CPU implementation of WebGPU (llvmpipe/lavapipe, SwiftShader, WARP): workgroup memory is
   * ordinary memory there and barriers are costly, so kernels such as the GEMM skip staging.
   */
  readonly softwareAdapter?: boolean;
  /**
   * Near-compute data fission (design notes 4.2), for GEMMs with packed operands under
   * 'workgroup' staging: 'compute' (default) keeps packed words in workgroup memory and splits
   * them in registers right before the multiply-add; 'load' splits at the global load and stages
   * f32. A switch to measure where the gain comes from (src/kernels/gemm.ts).
   */
  readonly fission?: 'compute' | 'load';
}

/** Conservative defaults (the WebGPU spec's guaranteed limits), for building WGSL without a device. */
export const DEFAULT_KERNEL_CONTEXT: KernelContext = {
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBufferBindingSize: 134217728,
  subgroups: false,
  shaderF16: false,
};

/**
 * One binding of a dispatch, in @group(0) @binding(i) order: an op input, an op output, or a small
 * constant array the op computes from its attributes and shapes (uploaded once at plan time).
 */
export type Binding =
  | { readonly input: number }
  | { readonly output: number }
  | { readonly constant: Float32Array | Uint32Array | Int32Array };

export interface Dispatch {
  /** Generated WGSL with entry point `main`; the text is the pipeline-cache key. */
  readonly wgsl: string;
  readonly workgroups: readonly [number, number, number];
  readonly bindings: readonly Binding[];
}
