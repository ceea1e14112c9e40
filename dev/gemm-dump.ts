import { getOp } from '../src/ops/registry.js';
import { DEFAULT_KERNEL_CONTEXT } from '../src/kernels/context.js';
const [op, shapes, raw] = JSON.parse(process.argv[2]);
const d = getOp(op); const at = d.attrs(raw, shapes);
const ds = d.gpu(shapes, d.shape(shapes, at), at, { ...DEFAULT_KERNEL_CONTEXT, softwareAdapter: process.env.HW !== '1' }) as any[];
console.log(ds[0].wgsl, ds[0].workgroups);
