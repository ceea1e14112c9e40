import { Tensor } from '../src/tensor.js';
import { runBoth, testGpu } from '../test/helpers.js';
const gpu = await testGpu();
console.log('got gpu');
const { cpu, gpu: g } = await runBoth(gpu, 'Relu', [new Tensor([4], [-1, 2, -3, 4])]);
console.log(cpu[0].data, g![0].data);
