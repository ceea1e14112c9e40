// The only module that holds a GPUDevice.
//
// Everything else in deftnn describes work as generated WGSL plus the buffers it binds; this
// module turns that into pipelines (cached by the WGSL text), buffers (pooled by size), command
// submissions and read-backs. A lost device or a failed submission becomes a thrown error on the
// next call, never a hang.

import type { KernelContext } from '../kernels/context.js';
import { DeftnnError } from '../errors.js';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Optional features we care about, as the adapter reports them. */
  features: { timestampQuery: boolean; subgroups: boolean; shaderF16: boolean };
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeWorkgroupSizeY: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
  };
}

export class GpuError extends DeftnnError {
  override name = 'GpuError';
}

const STORAGE = 0x80 | 0x8 | 0x4; // STORAGE | COPY_DST | COPY_SRC, numeric so browsers without globals work
const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST

/**
 * Dawn rounds timestamp queries to 2^16 ns (65.5 µs) unless this feature is off; per-layer timings
 * (the elimination budget search, the results tables) need finer ticks than that.
 */
export const PRECISE_TIMESTAMPS = 'disable-dawn-features=timestamp_quantization';

/** Where WebGPU comes from: the browser's navigator.gpu, or Dawn through the npm `webgpu` package. */
async function findGpu(): Promise<GPU | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) return null;
  const pkg = 'webgpu'; // a variable, so that browser bundlers do not try to include Dawn
  const dawn = (await import(/* @vite-ignore */ pkg)) as {
    create: (flags: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  // Dawn's enum objects (GPUBufferUsage, ...) are expected as globals by WebGPU code.
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  return dawn.create([PRECISE_TIMESTAMPS]);
}

export class Gpu {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly freeBuffers = new Map<number, GPUBuffer[]>();
  private lostReason: string | null = null;
  /** Rejecters of the race() calls in flight, told when the device is lost. */
  private readonly racing = new Set<(e: Error) => void>();
  private errorMessage: string | null = null;
  /** Bytes of storage buffers currently allocated (pooled or in use); tests watch it for leaks. */
  allocatedBytes = 0;
  /** Storage buffers currently allocated (pooled or in use). */
  allocatedBuffers = 0;

  private constructor(
    /** Held so Dawn's instance outlives the device: if it is garbage collected, Dawn crashes. */
    private readonly instance: GPU,
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
  ) {
    void device.lost.then((info) => {
      this.lostReason ??= `${info.reason}: ${info.message}`;
      const e = new GpuError(`WebGPU device lost (${this.lostReason}); load the model again, which acquires a new device`);
      for (const reject of this.racing) reject(e);
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.errorMessage ??= e.message;
    });
  }

  /** Acquire an adapter and device, or return null when this environment has no WebGPU adapter. */
  static async acquire(opts: { powerPreference?: GPUPowerPreference } = {}): Promise<Gpu | null> {
    const gpu = await findGpu();
    if (!gpu) return null;
    const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
    if (!adapter) return null;
    const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    const l = adapter.limits;
    const requiredLimits: Record<string, number> = {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    };
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    const info = adapter.info;
    const has = (f: GPUFeatureName) => device.features.has(f);
    const dl = device.limits;
    return new Gpu(gpu, device, {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      features: { timestampQuery: has('timestamp-query'), subgroups: has('subgroups'), shaderF16: has('shader-f16') },
      limits: {
        maxStorageBufferBindingSize: dl.maxStorageBufferBindingSize,
        maxBufferSize: dl.maxBufferSize,
        maxComputeWorkgroupStorageSize: dl.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: dl.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: dl.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: dl.maxComputeWorkgroupSizeY,
        maxComputeWorkgroupsPerDimension: dl.maxComputeWorkgroupsPerDimension,
        maxStorageBuffersPerShaderStage: dl.maxStorageBuffersPerShaderStage,
      },
    });
  }

  /** What kernel builders may know of this device. */
  get kernelContext(): KernelContext {
    const l = this.adapter.limits;
    return {
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      subgroups: this.adapter.features.subgroups,
      shaderF16: this.adapter.features.shaderF16,
      softwareAdapter: /llvmpipe|lavapipe|swiftshader|software|basic render/i.test(this.name),
    };
  }

  /** One line naming the adapter, for benchmark tables and logs. */
  get name(): string {
    const a = this.adapter;
    return [a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(' / ');
  }

  /** Whether the device was lost or destroyed: nothing runs on it any more; load() acquires a new one. */
  get lost(): boolean {
    return this.lostReason !== null;
  }

  /**
   * What this device holds, for leak checks and long-run monitoring (scripts/soak.ts): storage
   * buffers (in use or pooled for reuse) and the read-back staging buffers kept for reuse.
   */
  get memory(): { buffers: number; bytes: number; pooledBuffers: number; stagingBuffers: number; stagingBytes: number } {
    let pooled = 0;
    for (const list of this.freeBuffers.values()) pooled += list.length;
    return {
      buffers: this.allocatedBuffers,
      bytes: this.allocatedBytes,
      pooledBuffers: pooled,
      stagingBuffers: this.freeStaging.length,
      stagingBytes: this.freeStaging.reduce((s, b) => s + b.size, 0),
    };
  }

  private check(): void {
    if (this.lostReason) throw new GpuError(`WebGPU device lost (${this.lostReason}); load the model again, which acquires a new device`);
    if (this.errorMessage) {
      const m = this.errorMessage;
      this.errorMessage = null;
      throw new GpuError(`WebGPU error: ${m}`);
    }
  }

  /** A compute pipeline for this WGSL (entry point `main`), compiled once per distinct text. */
  pipeline(wgsl: string): GPUComputePipeline {
    let p = this.pipelines.get(wgsl);
    if (!p) {
      this.check();
      const module = this.device.createShaderModule({ code: wgsl });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(wgsl, p);
    }
    return p;
  }

  /** Compile and surface WGSL errors with the messages and the source; used by tests and on first use. */
  async validate(wgsl: string): Promise<void> {
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: wgsl });
    this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const err = await this.device.popErrorScope();
    if (err) {
      const info = await module.getCompilationInfo();
      const msgs = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`).join('\n');
      throw new GpuError(`invalid WGSL: ${err.message}\n${msgs}\n--- source ---\n${numbered(wgsl)}`);
    }
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** A storage buffer of at least `bytes`, from the pool when one of that size is free. */
  buffer(bytes: number): GPUBuffer {
    const size = roundSize(bytes);
    if (size > this.adapter.limits.maxStorageBufferBindingSize) {
      throw new GpuError(
        `tensor of ${bytes} bytes exceeds this adapter's storage binding limit ` +
          `(${this.adapter.limits.maxStorageBufferBindingSize} bytes); use a smaller batch`,
      );
    }
    const free = this.freeBuffers.get(size);
    const reused = free?.pop();
    if (reused) return reused;
    this.check();
    this.allocatedBytes += size;
    this.allocatedBuffers++;
    return this.device.createBuffer({ size, usage: STORAGE });
  }

  /** Return a buffer from buffer() to the pool. */
  release(buf: GPUBuffer): void {
    const list = this.freeBuffers.get(buf.size) ?? [];
    list.push(buf);
    this.freeBuffers.set(buf.size, list);
  }

  /** Destroy every pooled (free) buffer. */
  trim(): void {
    for (const list of this.freeBuffers.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size;
        this.allocatedBuffers--;
        b.destroy();
      }
    }
    this.freeBuffers.clear();
  }

  /**
   * A uniform buffer holding `words` (a shape-generic kernel's sizes, kernels/uniforms.ts). Not
   * pooled: the caller destroys it with the session that binds it.
   */
  uniform(words: Uint32Array): GPUBuffer {
    this.check();
    const buf = this.device.createBuffer({ size: roundSize(words.byteLength), usage: UNIFORM });
    this.device.queue.writeBuffer(buf, 0, words.buffer, words.byteOffset, words.byteLength);
    return buf;
  }

  upload(data: ArrayBufferView & { byteLength: number }, into?: GPUBuffer): GPUBuffer {
    const buf = into ?? this.buffer(data.byteLength);
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    return buf;
  }

  /** Submit command buffers, surfacing device loss. */
  submit(cmds: GPUCommandBuffer[]): void {
    this.check();
    this.device.queue.submit(cmds);
  }

  /** Wait for a mapAsync (or any GPU promise) but fail fast if the device is lost meanwhile. */
  async race<T>(p: Promise<T>): Promise<T> {
    // A promise of its own per call, dropped when the call ends: racing every call against one
    // long-lived pending promise would attach a reaction to it per call that is never freed (the
    // soak run measured ~300 bytes of heap per race()).
    this.check();
    let reject!: (e: Error) => void;
    const lost = new Promise<never>((_, r) => (reject = r));
    this.racing.add(reject);
    try {
      const r = await Promise.race([p, lost]);
      this.check();
      return r;
    } finally {
      this.racing.delete(reject);
    }
  }

  /** Read `bytes` from a storage buffer (one copy + map). Prefer Session's batched read-back in hot paths. */
  async read(buf: GPUBuffer, bytes: number = buf.size): Promise<Float32Array> {
    const staging = this.device.createBuffer({ size: roundSize(bytes), usage: 0x1 | 0x8 /* MAP_READ | COPY_DST */ });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, 0, staging, 0, roundSize(bytes));
    this.submit([enc.finish()]);
    await this.race(staging.mapAsync(0x1 /* READ */));
    const out = new Float32Array(staging.getMappedRange().slice(0, bytes));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Pipeline and bind group for one dispatch over `buffers` (binding i = buffers[i]). */
  prepare(wgsl: string, buffers: readonly GPUBuffer[]): PreparedDispatch {
    const pipeline = this.pipeline(wgsl);
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return { pipeline, bindGroup };
  }

  /**
   * Record `steps` into one command buffer (one compute pass; one pass per step when `profile`
   * asks for per-step GPU timestamps), then the buffer-to-buffer `copies`, copy `reads` into
   * staging buffers, submit once, and
   * return the read-back data plus, when profiling, each step's GPU time in milliseconds.
   */
  async execute(
    steps: readonly Step[],
    reads: readonly { buffer: GPUBuffer; bytes: number }[],
    opts: { profile?: boolean; copies?: readonly { from: GPUBuffer; to: GPUBuffer; bytes: number }[] } = {},
  ): Promise<{ data: Float32Array[]; stepMs?: number[] }> {
    this.check();
    const profile = !!opts.profile && this.adapter.features.timestampQuery;
    const enc = this.device.createCommandEncoder();
    let query: { set: GPUQuerySet; resolve: GPUBuffer; staging: GPUBuffer } | undefined;
    if (profile) {
      const count = Math.max(2, steps.length * 2);
      query = {
        set: this.device.createQuerySet({ type: 'timestamp', count }),
        resolve: this.device.createBuffer({ size: count * 8, usage: 0x200 | 0x4 /* QUERY_RESOLVE | COPY_SRC */ }),
        staging: this.device.createBuffer({ size: count * 8, usage: 0x1 | 0x8 }),
      };
      steps.forEach((s, i) => {
        const pass = enc.beginComputePass({
          timestampWrites: { querySet: query!.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
        });
        encodeStep(pass, s);
        pass.end();
      });
      enc.resolveQuerySet(query.set, 0, steps.length * 2, query.resolve, 0);
      enc.copyBufferToBuffer(query.resolve, 0, query.staging, 0, steps.length * 16);
    } else if (steps.length > 0) {
      const pass = enc.beginComputePass();
      for (const s of steps) encodeStep(pass, s);
      pass.end();
    }
    // Copies after the dispatches: state carried to the next run (see graph/session.ts).
    for (const c of opts.copies ?? []) enc.copyBufferToBuffer(c.from, 0, c.to, 0, roundSize(c.bytes));
    const staging = reads.map((r) => this.staging(roundSize(r.bytes)));
    reads.forEach((r, i) => enc.copyBufferToBuffer(r.buffer, 0, staging[i], 0, roundSize(r.bytes)));
    this.submit([enc.finish()]);
    const maps = staging.map((b) => b.mapAsync(0x1));
    if (query) maps.push(query.staging.mapAsync(0x1));
    if (maps.length === 0) await this.race(this.device.queue.onSubmittedWorkDone());
    else await this.race(Promise.all(maps));
    const data = reads.map((r, i) => {
      const out = new Float32Array(staging[i].getMappedRange(0, roundSize(r.bytes)).slice(0, r.bytes));
      staging[i].unmap();
      this.freeStaging.push(staging[i]);
      return out;
    });
    let stepMs: number[] | undefined;
    if (query) {
      const t = new BigInt64Array(query.staging.getMappedRange().slice(0));
      stepMs = steps.map((_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e6);
      query.staging.unmap();
      query.staging.destroy();
      query.resolve.destroy();
      query.set.destroy();
    }
    return { data, stepMs };
  }

  private readonly freeStaging: GPUBuffer[] = [];

  private staging(size: number): GPUBuffer {
    const i = this.freeStaging.findIndex((b) => b.size === size);
    if (i >= 0) return this.freeStaging.splice(i, 1)[0];
    return this.device.createBuffer({ size, usage: 0x1 | 0x8 /* MAP_READ | COPY_DST */ });
  }

  destroy(): void {
    this.trim();
    for (const b of this.freeStaging) b.destroy();
    this.freeStaging.length = 0;
    this.lostReason ??= 'destroyed: Gpu.destroy() was called';
    this.device.destroy();
  }
}

export interface PreparedDispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
}

export interface Step extends PreparedDispatch {
  readonly workgroups: readonly [number, number, number];
}

function encodeStep(pass: GPUComputePassEncoder, s: Step): void {
  pass.setPipeline(s.pipeline);
  pass.setBindGroup(0, s.bindGroup);
  pass.dispatchWorkgroups(s.workgroups[0], s.workgroups[1], s.workgroups[2]);
}

/** Buffer sizes are rounded up to 16 bytes so vec4 loads never run past the end, and so pools match. */
export function roundSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

function numbered(src: string): string {
  return src
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(4)} ${l}`)
    .join('\n');
}
