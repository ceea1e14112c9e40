import { tf, timeTf, median, gpu } from './gemm-harness.js';
console.log(gpu.name);
for (const n of [256, 512]) {
  const a = tf.randomUniform([n, n]);
  const b = tf.randomUniform([n, n]);
  await timeTf(() => tf.matMul(a, b), 2);
  const ts = [];
  for (let r = 0; r < 5; r++) ts.push(await timeTf(() => tf.matMul(a, b), 5));
  const ms = median(ts);
  console.log(n, ms.toFixed(1), 'ms', ((2 * n ** 3) / ms / 1e6).toFixed(2), 'GFLOP/s', ts.map((t) => t.toFixed(0)).join(' '));
}
process.exit(0);
