// A fuzz worker: a child process that builds and checks the cases its parent (pool.ts) sends, one
// at a time. A crash or a hang here ends only this process; the parent counts it and starts another.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { Gpu } from '../../src/device/gpu.js';
import { makeCase, type Kind } from './cases.js';
import { checkCase, OVERSIZE_BYTES } from './check.js';

export interface Task {
  readonly kind: Kind;
  readonly seed: number;
  readonly index: number;
  readonly onGpu: boolean;
  readonly cli: boolean;
}

const dir = mkdtempSync(join(tmpdir(), 'deftnn-fuzz-worker-'));
const inputImage = join(dir, 'input.png');
const png = new PNG({ width: 28, height: 28 });
png.data.fill(200);
writeFileSync(inputImage, PNG.sync.write(png));

let gpu: Promise<Gpu | null> | undefined;

process.on('message', async (t: Task) => {
  const start = performance.now();
  const c = await makeCase(t.kind, t.seed, t.index);
  const device = t.onGpu ? await (gpu ??= Gpu.acquire()) : null;
  const peak = process.resourceUsage().maxRSS * 1024;
  let r = await checkCase(c, { gpu: device, onGpu: t.onGpu, cli: t.cli, inputImage });
  const grew = process.resourceUsage().maxRSS * 1024 - peak;
  if (grew > OVERSIZE_BYTES) r = { outcome: 'oversize', stage: r.stage, message: `peak memory grew by ${(grew / 2 ** 20).toFixed(0)} MB (${r.outcome}: ${r.message ?? ''})` };
  process.send!({ index: t.index, kind: t.kind, ...r, what: c.what, base: c.base, ms: performance.now() - start });
});
process.send!({ ready: true });
