// The two ways the same PaddleOCR models are run, as data: every constant of the pre- and
// post-processing that differs between PaddleOCR's own inference (tools/infer/predict_system.py
// with its defaults: design notes, section 7) and Guten OCR (@gutenye/ocr-common 1.4:
// models/Detection.ts, backend/splitIntoLineImages.ts, models/Recognition.ts, and ocr-node's sharp
// ImageRaw). ocr() takes one by name (`preset`); each stage reads its part.
//
//                     PaddleOCR                                Guten OCR
//   detector size     longer side <= 960, sides rounded to      sides rounded up to multiples of 32,
//                     the nearest multiple of 32, stretched     no limit, page scaled to fit and centred
//                                                               on black ('contain')
//   detector filter   bilinear (cv2.resize)                     sharp (lanczos3 down, bicubic up)
//   detector pixels   ImageNet mean / std                       x / 255
//   binarisation      0.3                                       0.03
//   box score         mean probability >= 0.6                   none
//   box corners       clipped to the last pixel                 clipped to one past it
//   regions           at most 1000                              all
//   unclip corners    truncated to integers (pyclipper)         as they are (js-clipper)
//   crops             from the page                             from the detector's input (boxes in it)
//   classifier        0 / 180, turned above 0.9                 none
//   recogniser resize bilinear to width ceil(48 w / h)          sharp to width round(48 w / h)
//   recogniser pixels (x / 255 - 0.5) / 0.5                     x / 255
//   recogniser batch  MAX_BATCH (6 in PaddleOCR) lines sorted   one line at a time at its own width
//                     by aspect ratio, zeros to max(320, widest)
//   lines             one per box, sorted top to bottom         boxes on one row (midlines within half
//                                                               the mean box height) joined by a space
// Both: B, G, R planes; unclip ratio 1.5; minimum box sides 3 and 5; perspective crops bicubic
// with a replicated border, turned when 1.5 times taller than wide; CTC greedy decoding with the
// keys and a space; lines scoring under 0.5 dropped.
//
// How each reads rendered text is measured in docs/results.md ("OCR on rendered text"); PaddleOCR's
// convention is the default (DEFAULT_PRESET says why).

import type { ResizeFilter } from '../image/resample.js';
import type { Interpolation } from '../image/geometry.js';
import { MAX_BATCH } from './batch.js';
import type { PixelNorm } from './pixels.js';

export type OcrPreset = 'paddleocr' | 'guten';
export const OCR_PRESETS: readonly OcrPreset[] = ['paddleocr', 'guten'];

export interface DetectorConvention {
  /** The longer side at most this (det_limit_side_len, limit type 'max'); null: no limit. */
  readonly limitSide: number | null;
  /** Each side to a multiple of 32: the nearest (halves to even, Python's round) or the next. */
  readonly rounding: 'nearest' | 'up';
  /** 'stretch' to the size, or 'contain': scaled by one factor to fit, centred, black around. */
  readonly fit: 'stretch' | 'contain';
  readonly filter: ResizeFilter;
  readonly norm: PixelNorm;
}

export interface BoxConvention {
  /** Binarisation threshold (det_db_thresh). */
  readonly threshold: number;
  /** Minimum mean probability inside a box (det_db_box_thresh); 0 keeps every box. */
  readonly boxThreshold: number;
  /** Growth: offset = area * ratio / perimeter (det_db_unclip_ratio). */
  readonly unclipRatio: number;
  /** Regions looked at, at most (max_candidates). */
  readonly maxCandidates: number;
  /** Truncate a box's corners to integers before growing it (pyclipper does; js-clipper does not). */
  readonly truncateUnclip: boolean;
  /** How far past the last pixel a box's corners may lie (PaddleOCR clips to it, Guten OCR to one past). */
  readonly pageEdge: 0 | 1;
  /** Cut lines out of the page ('page') or out of the scaled image the detector saw ('detector'). */
  readonly cropFrom: 'page' | 'detector';
  readonly cropInterpolation: Interpolation;
}

export interface RecogniserConvention {
  readonly filter: ResizeFilter;
  /** A line's width at height 48: ceil or round of 48 * width / height. */
  readonly widthRounding: 'ceil' | 'round';
  readonly norm: PixelNorm;
  /** Lines per batch (sorted by aspect ratio when more than one). */
  readonly batch: number;
  /** A batch is at least this wide (zeros to the right); 0: each line at its own width. */
  readonly minWidth: number;
}

export interface OcrConvention {
  readonly preset: OcrPreset;
  readonly detector: DetectorConvention;
  readonly boxes: BoxConvention;
  /** Run the direction classifier (when the models have one). */
  readonly classify: boolean;
  /** Turn a line when '180' scores above this (cls_thresh). */
  readonly clsThreshold: number;
  readonly recogniser: RecogniserConvention;
  /** Drop lines whose mean character score is under this (drop_score). */
  readonly dropScore: number;
  /** Join the lines read on one row into one, with a space (Guten OCR's output). */
  readonly joinRows: boolean;
}

/** ImageNet's statistics as PaddleOCR's detector applies them (to B, G, R in that order). */
const IMAGENET: PixelNorm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/** PaddleOCR's classifier and recogniser input, (x / 255 - 0.5) / 0.5. */
export const HALF_NORM: PixelNorm = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
/** x / 255: Guten OCR leaves mean and std out everywhere. */
const UNIT: PixelNorm = { mean: [0, 0, 0], std: [1, 1, 1] };

export const CONVENTIONS: Readonly<Record<OcrPreset, OcrConvention>> = {
  paddleocr: {
    preset: 'paddleocr',
    detector: { limitSide: 960, rounding: 'nearest', fit: 'stretch', filter: 'triangle', norm: IMAGENET },
    boxes: { threshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, maxCandidates: 1000, truncateUnclip: true, pageEdge: 0, cropFrom: 'page', cropInterpolation: 'bicubic' },
    classify: true,
    clsThreshold: 0.9,
    recogniser: { filter: 'triangle', widthRounding: 'ceil', norm: HALF_NORM, batch: MAX_BATCH, minWidth: 320 },
    dropScore: 0.5,
    joinRows: false,
  },
  guten: {
    preset: 'guten',
    detector: { limitSide: null, rounding: 'up', fit: 'contain', filter: 'vips', norm: UNIT },
    boxes: { threshold: 0.03, boxThreshold: 0, unclipRatio: 1.5, maxCandidates: Infinity, truncateUnclip: false, pageEdge: 1, cropFrom: 'detector', cropInterpolation: 'bicubic' },
    classify: false,
    clsThreshold: 0.9,
    recogniser: { filter: 'vips', widthRounding: 'round', norm: UNIT, batch: 1, minWidth: 0 },
    dropScore: 0.5,
    joinRows: true,
  },
};

/**
 * PaddleOCR's convention is the default. On the rendered set (docs/results.md) it finds the lines
 * (detector F-score 99.8% against 74.8%: Guten OCR's joins the segments of a row into one line) and
 * runs the direction classifier; Guten OCR's reads more of the text (page CER 4.6% against 7.2%)
 * because its bicubic upscaling of small lines keeps the spaces that a bilinear one loses.
 */
export const DEFAULT_PRESET: OcrPreset = 'paddleocr';

/** The convention of a preset name, with a clear error for an unknown one. */
export function convention(preset: string = DEFAULT_PRESET): OcrConvention {
  if (!(OCR_PRESETS as readonly string[]).includes(preset)) {
    throw new RangeError(`unknown OCR preset '${preset}': use ${OCR_PRESETS.map((p) => `'${p}'`).join(' or ')}`);
  }
  return CONVENTIONS[preset as OcrPreset];
}
