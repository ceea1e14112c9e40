import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const ad = await gpu.requestAdapter();
const i = ad.info;
console.log(i.subgroupMinSize, i.subgroupMaxSize, [...ad.features]);
