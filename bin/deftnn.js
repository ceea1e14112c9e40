#!/usr/bin/env node
// The `deftnn` command (package.json "bin"). In a checkout of the repository it runs the
// TypeScript sources through tsx's loader (so `npx deftnn ...` needs no build step); in a built
// package without src/ it runs the compiled dist/cli/main.js.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(fileURLToPath(source))) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(new URL('../dist/cli/main.js', import.meta.url).href));
}
// Exit explicitly: a WebGPU device (Dawn) may keep the event loop alive after the work is done.
process.exit(await main(process.argv.slice(2)));
