import { Gpu } from '../src/device/gpu.ts';
const gpu = await Gpu.acquire();
console.log('acquired', gpu!.name);
const b = gpu!.upload(new Float32Array([1,2,3,4]));
console.log('uploaded');
const r = await gpu!.read(b, 16);
console.log(r);
